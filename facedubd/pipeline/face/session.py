"""The small part of an onnxruntime session that face analysis uses.

Written as a Protocol so the pure code does not import onnxruntime, and so the outputs
are picked by shape rather than by name (converters may rename tensors)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np


class Session(Protocol):
    def run(
        self, output_names: Sequence[str] | None, input_feed: Mapping[str, Any]
    ) -> Sequence[Any]: ...

    def get_inputs(self) -> Sequence[Any]: ...


def run_single_input(session: Session, tensor: np.ndarray) -> list[np.ndarray]:
    """Run a one-input model and return every output as a float32 array."""
    name = session.get_inputs()[0].name
    return [np.asarray(out, dtype=np.float32) for out in session.run(None, {name: tensor})]


def pick_output(outputs: Sequence[np.ndarray], size: int) -> np.ndarray:
    """The output whose element count is `size` (e.g. 1404 for the mesh, 1 for its flag)."""
    for out in outputs:
        if out.size == size:
            return out
    sizes = [out.size for out in outputs]
    raise ValueError(f"no model output has {size} elements (outputs have {sizes})")


def pick_by_last_dim(outputs: Sequence[np.ndarray], last_dim: int) -> np.ndarray:
    """The output whose last axis has `last_dim` entries (16 for boxes, 1 for scores)."""
    for out in outputs:
        if out.shape[-1] == last_dim:
            return out
    shapes = [out.shape for out in outputs]
    raise ValueError(f"no model output ends in {last_dim} (outputs are {shapes})")
