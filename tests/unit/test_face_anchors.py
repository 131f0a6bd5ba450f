"""SSD anchors of the two BlazeFace detectors, as notes/MEDIAPIPE.md states them."""

from __future__ import annotations

import numpy as np
import pytest

from facedubd.pipeline.face.anchors import FULL_RANGE, SHORT_RANGE, grid_centres, ssd_anchors


def test_short_range_has_896_anchors_in_two_grids() -> None:
    anchors = ssd_anchors(SHORT_RANGE)
    assert anchors.shape == (896, 2)
    # 16 x 16 cells, 2 anchors each, then 8 x 8 cells, 6 anchors each.
    np.testing.assert_allclose(anchors[0], [0.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(anchors[1], anchors[0])
    np.testing.assert_allclose(anchors[2], [1.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(anchors[2 * 16], [0.5 / 16, 1.5 / 16])
    np.testing.assert_allclose(anchors[511], [15.5 / 16, 15.5 / 16])
    np.testing.assert_allclose(anchors[512:518], np.tile([0.5 / 8, 0.5 / 8], (6, 1)))
    np.testing.assert_allclose(anchors[518], [1.5 / 8, 0.5 / 8])
    np.testing.assert_allclose(anchors[-1], [7.5 / 8, 7.5 / 8])


def test_full_range_has_one_anchor_per_cell_of_a_48_grid() -> None:
    anchors = ssd_anchors(FULL_RANGE)
    assert anchors.shape == (2304, 2)
    np.testing.assert_allclose(anchors[0], [0.5 / 48, 0.5 / 48])
    np.testing.assert_allclose(anchors[1], [1.5 / 48, 0.5 / 48])
    np.testing.assert_allclose(anchors[48], [0.5 / 48, 1.5 / 48])


@pytest.mark.parametrize("cells", [1, 3, 8])
def test_grid_centres_lie_inside_the_unit_square_row_major(cells: int) -> None:
    centres = grid_centres(cells, repeat=1)
    assert centres.shape == (cells * cells, 2)
    assert centres.min() > 0 and centres.max() < 1
    assert np.all(np.diff(centres[:cells, 0]) > 0)
    assert np.all(centres[:cells, 1] == centres[0, 1])
