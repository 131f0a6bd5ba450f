"""Each converted model, and its tuned copy (`facedubd.models.tune`), against the reference
TFLite runtime (ai-edge-litert), on random inputs and on real photos: max|onnx - ref| /
max|ref| must stay below 1e-3 per output."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from facedubd.models.manifest import ModelEntry, load_manifest
from facedubd.models.sessions import create_session
from facedubd.models.tune import tuned_model_path

MODELS = tuple(load_manifest().models)
RANDOM_INPUTS = 5
REAL_PHOTOS = ("single_face.jpg", "astronaut.png", "grace_hopper.jpg")
BOUND = 1e-3


def _real_input(photo: Path, entry: ModelEntry) -> np.ndarray:
    """The photo as the model wants it: RGB, resized to the input size, scaled to its range."""
    assert entry.input is not None
    _, height, width, _ = entry.input.shape
    bgr = cv2.imread(str(photo), cv2.IMREAD_COLOR)
    assert bgr is not None, photo
    rgb = cv2.cvtColor(
        cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB
    )
    low, high = entry.input.range
    return (rgb.astype(np.float32) / 255.0 * (high - low) + low)[None]


def _random_inputs(entry: ModelEntry, seed: int) -> list[np.ndarray]:
    assert entry.input is not None
    low, high = entry.input.range
    rng = np.random.default_rng(seed)
    return [
        rng.uniform(low, high, entry.input.shape).astype(np.float32) for _ in range(RANDOM_INPUTS)
    ]


def _reference(interpreter: Interpreter, tensor: np.ndarray) -> dict[str, np.ndarray]:
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], tensor)
    interpreter.invoke()
    return {
        d["name"]: interpreter.get_tensor(d["index"]).copy()
        for d in interpreter.get_output_details()
    }


@pytest.mark.parametrize("tuned", [False, True], ids=["converted", "tuned"])
@pytest.mark.parametrize("name", MODELS)
def test_converted_model_matches_tflite_reference(
    name: str,
    tuned: bool,
    model_paths: dict[str, Path],
    sample: Callable[[str], Path],
    record_property: Callable[[str, object], None],
) -> None:
    entry = load_manifest().models[name]
    assert entry.input is not None
    onnx_path = model_paths[name]
    interpreter = Interpreter(model_path=str(onnx_path.with_suffix(".tflite")), num_threads=1)
    interpreter.allocate_tensors()
    session = create_session(
        tuned_model_path(onnx_path) if tuned else onnx_path, device="cpu", threads=1
    )
    assert [o.name for o in session.get_outputs()] == [o.name for o in entry.outputs]

    inputs = _random_inputs(entry, seed=len(name)) + [
        _real_input(sample(p), entry) for p in REAL_PHOTOS
    ]
    names = [o.name for o in session.get_outputs()]
    diffs: dict[str, list[float]] = {spec.name: [] for spec in entry.outputs}
    scales: dict[str, list[float]] = {spec.name: [] for spec in entry.outputs}
    for tensor in inputs:
        expected = _reference(interpreter, tensor)
        got = dict(zip(names, session.run(None, {entry.input.name: tensor}), strict=True))
        for spec in entry.outputs:
            assert got[spec.name].shape == tuple(spec.shape) == expected[spec.name].shape
            diffs[spec.name].append(float(np.abs(got[spec.name] - expected[spec.name]).max()))
            scales[spec.name].append(float(np.abs(expected[spec.name]).max()))

    for spec in entry.outputs:
        # The figure is taken over the whole input set: the selfie mask of pure noise is
        # ~1e-8 everywhere (a sigmoid far below zero), where a per-input ratio only
        # measures float underflow. Inputs whose output is not negligible are also held
        # to the bound one by one.
        scale = max(scales[spec.name])
        assert scale > 0, f"{name}/{spec.name}: the reference output is all zeros"
        ratio = max(diffs[spec.name]) / scale
        record_property(f"parity_{spec.name}", f"{ratio:.3e}")
        label = f"{name} (tuned)" if tuned else name
        print(
            f"parity {label}/{spec.name}: max|onnx-ref|/max|ref| = {ratio:.3e} "
            f"over {len(inputs)} inputs ({RANDOM_INPUTS} random, {len(REAL_PHOTOS)} real)"
        )
        assert ratio < BOUND, (spec.name, ratio)
        for diff, own in zip(diffs[spec.name], scales[spec.name], strict=True):
            if own >= 0.01 * scale:
                assert diff / own < BOUND, (spec.name, diff, own)
