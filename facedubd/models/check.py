"""Check a freshly converted model before it is recorded: its inputs and outputs are the
manifest's (names and shapes), and onnxruntime runs it to finite outputs of those shapes."""

from __future__ import annotations

import numpy as np

from facedubd.errors import ModelError
from facedubd.models.manifest import ModelEntry


def _declared(values: list[tuple[str, tuple[int, ...]]]) -> str:
    return ", ".join(f"{name}{list(shape)}" for name, shape in values)


def check_converted(entry: ModelEntry, data: bytes) -> None:
    """Raise ModelError naming the model when the ONNX bytes do not keep its contract."""
    import onnxruntime as ort

    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    inputs = [(i.name, tuple(i.shape)) for i in session.get_inputs()]
    outputs = [(o.name, tuple(o.shape)) for o in session.get_outputs()]
    if entry.input is not None and inputs != [(entry.input.name, entry.input.shape)]:
        raise ModelError(f"{entry.name}: the converted inputs are {_declared(inputs)}")
    if entry.outputs and outputs != [(o.name, o.shape) for o in entry.outputs]:
        raise ModelError(f"{entry.name}: the converted outputs are {_declared(outputs)}")
    if entry.input is None:
        return
    low, high = entry.input.range
    probe = np.full(entry.input.shape, (low + high) / 2, dtype=np.float32)
    for (name, shape), value in zip(
        outputs, session.run(None, {entry.input.name: probe}), strict=True
    ):
        if value.shape != shape or not np.isfinite(value).all():
            raise ModelError(f"{entry.name}: output {name} is not finite or not {list(shape)}")
