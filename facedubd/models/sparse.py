"""Densify TFLite sparse tensors (the DENSIFY op folded at conversion time).

A sparse tensor stores its non-zero values in traversal order. Each traversal level is
either dense (`dense_size` children per parent position) or CSR (`segments[p] ..
segments[p + 1]` index the children of parent position p, `indices` give their
coordinates). Block-sparse tensors add levels for the inside of a block; `block_map`
says which original dimension each block level belongs to."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclasses.dataclass(frozen=True)
class DimLevel:
    dense_size: int
    segments: npt.NDArray[np.int64] | None = None
    indices: npt.NDArray[np.int64] | None = None

    @property
    def is_dense(self) -> bool:
        return self.segments is None


@dataclasses.dataclass(frozen=True)
class Sparsity:
    traversal_order: tuple[int, ...]
    block_map: tuple[int, ...]
    levels: tuple[DimLevel, ...]


def _descend(
    level: DimLevel, positions: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(parent row, coordinate, child position) of every child of `positions`."""
    if level.is_dense:
        size = level.dense_size
        parents = np.repeat(np.arange(positions.size), size)
        coords = np.tile(np.arange(size, dtype=np.int64), positions.size)
        return parents, coords, np.repeat(positions, size) * size + coords
    assert level.segments is not None and level.indices is not None
    starts = level.segments[positions]
    counts = level.segments[positions + 1] - starts
    parents = np.repeat(np.arange(positions.size), counts)
    offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    children = np.repeat(starts, counts) + offsets
    return parents, level.indices[children], children


def densify(
    values: npt.NDArray[Any], shape: tuple[int, ...], sparsity: Sparsity
) -> npt.NDArray[Any]:
    """The dense tensor of `shape` that `values` (non-zeros in traversal order) encode."""
    rank = len(shape)
    order = sparsity.traversal_order
    positions = np.zeros(1, dtype=np.int64)
    coords = np.zeros((1, len(order)), dtype=np.int64)
    for depth, level in enumerate(sparsity.levels):
        parents, coord, positions = _descend(level, positions)
        coords = coords[parents]
        coords[:, order[depth]] = coord
    block_size = {
        original: sparsity.levels[order.index(rank + j)].dense_size
        for j, original in enumerate(sparsity.block_map)
    }
    dense_index = np.zeros((coords.shape[0], rank), dtype=np.int64)
    for dim in range(rank):
        dense_index[:, dim] = coords[:, dim] * block_size.get(dim, 1)
    for j, original in enumerate(sparsity.block_map):
        dense_index[:, original] += coords[:, rank + j]
    out = np.zeros(shape, dtype=values.dtype)
    out[tuple(dense_index.T)] = values[positions]
    return out
