"""Op-level checks of the TFLite to ONNX converter: hand-built one-op TFLite graphs run in
onnxruntime against numpy references written from TFLite's definitions, and the pure
layout arithmetic (SAME padding, weight layouts, the PRELU rewrite, sparse tensors)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from facedubd.errors import ModelError
from facedubd.models import layout
from facedubd.models.convert import graph_to_onnx
from facedubd.models.sparse import DimLevel, Sparsity, densify
from facedubd.models.tflite_reader import OpInfo, TensorInfo, TfliteGraph

RNG = np.random.default_rng(7)


def options(**values: Any) -> SimpleNamespace:
    """Stand-in for a flatbuffer options table: each field is a zero-argument method."""
    return SimpleNamespace(**{key: (lambda v=value: v) for key, value in values.items()})


def tensor(
    index: int, shape: tuple[int, ...], data: Any = None, dtype: Any = np.float32
) -> TensorInfo:
    return TensorInfo(index=index, name=f"t{index}", shape=shape, dtype=dtype, data=data)


def run(graph: TfliteGraph, *feeds: np.ndarray) -> list[np.ndarray]:
    model = graph_to_onnx(graph, "unit")
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return [np.asarray(o) for o in session.run(None, dict(zip(names, feeds, strict=True)))]


def reference_conv(
    x: np.ndarray, w_ohwi: np.ndarray, stride: int, pads: tuple[int, int, int, int]
) -> np.ndarray:
    """NHWC convolution by definition; pads = (top, bottom, left, right)."""
    top, bottom, left, right = pads
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    kh, kw = w_ohwi.shape[1:3]
    out_h = (xp.shape[1] - kh) // stride + 1
    out_w = (xp.shape[2] - kw) // stride + 1
    out = np.zeros((1, out_h, out_w, w_ohwi.shape[0]), np.float64)
    for i in range(out_h):
        for j in range(out_w):
            window = xp[0, i * stride : i * stride + kh, j * stride : j * stride + kw, :]
            out[0, i, j] = np.tensordot(w_ohwi, window, axes=([1, 2, 3], [0, 1, 2]))
    return out


# ------------------------------------------------------------------------ pure layout


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "dilation", "expected"),
    [
        (128, 3, 2, 1, (0, 1)),  # even input, stride 2: the extra pixel goes after
        (7, 3, 2, 1, (1, 1)),
        (5, 3, 1, 1, (1, 1)),
        (5, 4, 1, 1, (1, 2)),
        (4, 2, 2, 1, (0, 0)),
        (9, 3, 1, 2, (2, 2)),
        (3, 5, 2, 1, (2, 2)),
    ],
)
def test_same_padding_matches_tensorflow(
    size: int, kernel: int, stride: int, dilation: int, expected: tuple[int, int]
) -> None:
    before, after = layout.same_padding(size, kernel, stride, dilation)
    assert (before, after) == expected
    effective = (kernel - 1) * dilation + 1
    assert (size + before + after - effective) // stride + 1 == -(-size // stride)


def test_transpose_conv_pads_crop_to_the_requested_size() -> None:
    pads, extra = layout.transpose_conv_pads((64, 32), (128, 64), (4, 2), (2, 2))
    assert pads == [1, 0, 1, 0] and extra == [0, 0]
    pads, extra = layout.transpose_conv_pads((5, 5), (11, 11), (1, 1), (2, 2))
    assert pads == [0, 0, 0, 0] and extra == [2, 2]


def test_depthwise_weight_layout_keeps_channel_and_multiplier_order() -> None:
    w = RNG.normal(size=(1, 3, 3, 6)).astype(np.float32)  # C = 3 input channels, M = 2
    onnx_w = layout.depthwise_weights(w)
    assert onnx_w.shape == (6, 1, 3, 3)
    for out_channel in range(6):
        np.testing.assert_array_equal(onnx_w[out_channel, 0], w[0, :, :, out_channel])
    with pytest.raises(ValueError, match="leading 1"):
        layout.depthwise_weights(np.zeros((2, 3, 3, 6), np.float32))


def test_prelu_rewrite_is_bit_identical_including_slopes_outside_unit_range() -> None:
    x = RNG.normal(scale=4.0, size=(1, 8, 8, 4)).astype(np.float32)
    slope = np.array([-0.5, 0.0, 0.25, 1.7], np.float32)
    assert np.array_equal(layout.prelu_rewritten(x, slope), layout.prelu_reference(x, slope))
    # The tempting Max(x, slope * x) is wrong for a slope above 1 or below 0.
    assert not np.array_equal(np.maximum(x, slope * x), layout.prelu_reference(x, slope))


def test_nchw_broadcast_of_per_channel_and_full_constants() -> None:
    x = RNG.normal(size=(1, 3, 5, 4)).astype(np.float32)
    for constant in (RNG.normal(size=(4,)), RNG.normal(size=(5, 4)), RNG.normal(size=(1, 3, 5, 4))):
        c = constant.astype(np.float32)
        nchw = x.transpose(layout.TO_NCHW) + layout.nchw_broadcast(c)
        np.testing.assert_array_equal(nchw.transpose(layout.TO_NHWC), x + c)


# ------------------------------------------------------------------------ one-op graphs


def test_conv2d_same_stride2_fp16_weights_and_relu6() -> None:
    x = RNG.normal(size=(1, 8, 8, 3)).astype(np.float32)
    w16 = RNG.normal(size=(5, 3, 3, 3)).astype(np.float16)
    bias = RNG.normal(size=(5,)).astype(np.float32)
    graph = TfliteGraph(
        tensors=[
            tensor(0, (1, 8, 8, 3)),
            tensor(1, (5, 3, 3, 3), w16, np.float16),
            tensor(2, (5, 3, 3, 3)),
            tensor(3, (5,), bias),
            tensor(4, (1, 4, 4, 5)),
        ],
        ops=[
            OpInfo("DEQUANTIZE", (1,), (2,)),
            OpInfo(
                "CONV_2D",
                (0, 2, 3),
                (4,),
                options(
                    Padding=0,
                    StrideH=2,
                    StrideW=2,
                    DilationHFactor=1,
                    DilationWFactor=1,
                    FusedActivationFunction=3,
                ),
            ),
        ],
        inputs=(0,),
        outputs=(4,),
    )
    (got,) = run(graph, x)
    # in 8, k 3, s 2: out 4, one pixel of padding, at the bottom and right only.
    expected = np.clip(reference_conv(x, w16.astype(np.float32), 2, (0, 1, 0, 1)) + bias, 0, 6)
    assert got.shape == (1, 4, 4, 5)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_depthwise_conv_with_multiplier() -> None:
    x = RNG.normal(size=(1, 5, 5, 3)).astype(np.float32)
    w = RNG.normal(size=(1, 3, 3, 6)).astype(np.float32)
    graph = TfliteGraph(
        tensors=[tensor(0, (1, 5, 5, 3)), tensor(1, (1, 3, 3, 6), w), tensor(2, (1, 5, 5, 6))],
        ops=[
            OpInfo(
                "DEPTHWISE_CONV_2D",
                (0, 1, -1),
                (2,),
                options(
                    Padding=0,
                    StrideH=1,
                    StrideW=1,
                    DepthMultiplier=2,
                    DilationHFactor=1,
                    DilationWFactor=1,
                    FusedActivationFunction=0,
                ),
            )
        ],
        inputs=(0,),
        outputs=(2,),
    )
    (got,) = run(graph, x)
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    expected = np.zeros((1, 5, 5, 6))
    for i in range(5):
        for j in range(5):
            for out_channel in range(6):
                window = xp[0, i : i + 3, j : j + 3, out_channel // 2]
                expected[0, i, j, out_channel] = (window * w[0, :, :, out_channel]).sum()
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_prelu_op_matches_its_definition() -> None:
    x = RNG.normal(scale=3.0, size=(1, 4, 4, 3)).astype(np.float32)
    slope = np.array([[[-0.5, 0.3, 1.7]]], np.float32)
    graph = TfliteGraph(
        tensors=[tensor(0, (1, 4, 4, 3)), tensor(1, (1, 1, 3), slope), tensor(2, (1, 4, 4, 3))],
        ops=[OpInfo("PRELU", (0, 1), (2,))],
        inputs=(0,),
        outputs=(2,),
    )
    (got,) = run(graph, x)
    np.testing.assert_array_equal(got, layout.prelu_reference(x, slope))


def test_pad_on_the_channel_axis() -> None:
    x = RNG.normal(size=(1, 4, 4, 3)).astype(np.float32)
    pairs = np.array([[0, 0], [1, 0], [0, 2], [0, 5]], np.int32)
    graph = TfliteGraph(
        tensors=[
            tensor(0, (1, 4, 4, 3)),
            tensor(1, (4, 2), pairs, np.int32),
            tensor(2, (1, 5, 6, 8)),
        ],
        ops=[OpInfo("PAD", (0, 1), (2,))],
        inputs=(0,),
        outputs=(2,),
    )
    (got,) = run(graph, x)
    np.testing.assert_array_equal(got, np.pad(x, pairs))


def test_average_pool_same_excludes_padding() -> None:
    x = RNG.normal(size=(1, 4, 4, 2)).astype(np.float32)
    graph = TfliteGraph(
        tensors=[tensor(0, (1, 4, 4, 2)), tensor(1, (1, 4, 4, 2))],
        ops=[
            OpInfo(
                "AVERAGE_POOL_2D",
                (0,),
                (1,),
                options(
                    Padding=0,
                    StrideH=1,
                    StrideW=1,
                    FilterHeight=3,
                    FilterWidth=3,
                    FusedActivationFunction=0,
                ),
            )
        ],
        inputs=(0,),
        outputs=(1,),
    )
    (got,) = run(graph, x)
    expected = np.zeros_like(x)
    for i in range(4):
        for j in range(4):
            window = x[0, max(i - 1, 0) : i + 2, max(j - 1, 0) : j + 2]
            expected[0, i, j] = window.mean(axis=(0, 1))
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_depth_to_space_uses_tensorflow_order() -> None:
    x = RNG.normal(size=(1, 2, 3, 8)).astype(np.float32)
    graph = TfliteGraph(
        tensors=[tensor(0, (1, 2, 3, 8)), tensor(1, (1, 4, 6, 2))],
        ops=[OpInfo("DEPTH_TO_SPACE", (0,), (1,), options(BlockSize=2))],
        inputs=(0,),
        outputs=(1,),
    )
    (got,) = run(graph, x)
    expected = np.zeros((1, 4, 6, 2), np.float32)
    for h in range(2):
        for w in range(3):
            for i in range(2):
                for j in range(2):
                    expected[0, h * 2 + i, w * 2 + j] = x[
                        0, h, w, (i * 2 + j) * 2 : (i * 2 + j) * 2 + 2
                    ]
    np.testing.assert_array_equal(got, expected)


def test_reshape_and_concatenation_keep_tflite_element_order() -> None:
    x = RNG.normal(size=(1, 2, 2, 3)).astype(np.float32)
    y = RNG.normal(size=(1, 2, 2, 3)).astype(np.float32)
    graph = TfliteGraph(
        tensors=[
            tensor(0, (1, 2, 2, 3)),
            tensor(1, (1, 2, 2, 3)),
            tensor(2, (1, 2, 2, 6)),
            tensor(3, (3,), np.array([1, 4, 6], np.int32), np.int32),
            tensor(4, (1, 4, 6)),
        ],
        ops=[
            OpInfo("CONCATENATION", (0, 1), (2,), options(Axis=3, FusedActivationFunction=0)),
            OpInfo("RESHAPE", (2, 3), (4,)),
        ],
        inputs=(0, 1),
        outputs=(2, 4),
    )
    concat, reshaped = run(graph, x, y)
    np.testing.assert_array_equal(concat, np.concatenate([x, y], axis=3))
    np.testing.assert_array_equal(reshaped, np.concatenate([x, y], axis=3).reshape(1, 4, 6))


def _mean_graph(
    shape: tuple[int, ...], axes: list[int], out_shape: tuple[int, ...], keep: bool, *, nchw: bool
) -> TfliteGraph:
    """x (+ 0.5 first when `nchw`: the converter then holds it channels-first) -> MEAN."""
    offset = tensor(2, (1,), np.array([0.5], np.float32))
    axes_t = tensor(3, (len(axes),), np.array(axes, np.int32), np.int32)
    ops = [OpInfo("MEAN", (1 if nchw else 0, 3), (4,), options(KeepDims=keep))]
    if nchw:
        ops.insert(0, OpInfo("ADD", (0, 2), (1,), options(FusedActivationFunction=0)))
    return TfliteGraph(
        tensors=[tensor(0, shape), tensor(1, shape), offset, axes_t, tensor(4, out_shape)],
        ops=ops,
        inputs=(0,),
        outputs=(4,),
    )


@pytest.mark.parametrize(
    ("axes", "keep", "nchw"),
    [
        ([1, 2], False, True),  # global average pooling, as in the hand landmark model
        ([1, 2], True, True),
        ([1], False, True),  # (N, W, C) left: the channels-first result is reordered
        ([-1], False, False),
        ([2, 3], False, True),
    ],
)
def test_mean_over_tflite_axes(axes: list[int], keep: bool, nchw: bool) -> None:
    x = RNG.normal(size=(1, 3, 4, 5)).astype(np.float32)
    expected = (x + 0.5 if nchw else x).mean(axis=tuple(axes), keepdims=keep)
    (got,) = run(_mean_graph(x.shape, axes, expected.shape, keep, nchw=nchw), x)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_fully_connected_flattens_in_tflite_order_with_bias_and_relu() -> None:
    x = RNG.normal(size=(1, 2, 2, 3)).astype(np.float32)
    w16 = RNG.normal(size=(5, 12)).astype(np.float16)
    bias = RNG.normal(size=(5,)).astype(np.float32)
    graph = TfliteGraph(
        tensors=[
            tensor(0, (1, 2, 2, 3)),
            tensor(1, (1, 2, 2, 3)),
            tensor(2, (1,), np.array([0.25], np.float32)),
            tensor(3, (5, 12), w16, np.float16),
            tensor(4, (5, 12)),
            tensor(5, (5,), bias),
            tensor(6, (1, 5)),
        ],
        ops=[
            OpInfo("ADD", (0, 2), (1,), options(FusedActivationFunction=0)),
            OpInfo("DEQUANTIZE", (3,), (4,)),
            OpInfo(
                "FULLY_CONNECTED",
                (1, 4, 5),
                (6,),
                options(FusedActivationFunction=1, WeightsFormat=0, KeepNumDims=False),
            ),
        ],
        inputs=(0,),
        outputs=(6,),
    )
    (got,) = run(graph, x)
    flat = (x + 0.25).reshape(1, 12)  # NHWC element order
    expected = np.maximum(flat @ w16.astype(np.float32).T + bias, 0.0)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert (got == 0).any() and (got > 0).any()  # the ReLU did something


def test_fully_connected_keeps_leading_dims_without_bias() -> None:
    x = RNG.normal(size=(2, 3, 4)).astype(np.float32)
    w = RNG.normal(size=(6, 4)).astype(np.float32)
    graph = TfliteGraph(
        tensors=[tensor(0, (2, 3, 4)), tensor(1, (6, 4), w), tensor(2, (2, 3, 6))],
        ops=[
            OpInfo(
                "FULLY_CONNECTED",
                (0, 1, -1),
                (2,),
                options(FusedActivationFunction=0, WeightsFormat=0, KeepNumDims=True),
            )
        ],
        inputs=(0,),
        outputs=(2,),
    )
    (got,) = run(graph, x)
    np.testing.assert_allclose(got, x @ w.T, rtol=1e-5, atol=1e-5)


def test_fully_connected_refuses_shuffled_weights() -> None:
    graph = TfliteGraph(
        tensors=[
            tensor(0, (1, 4)),
            tensor(1, (2, 4), np.ones((2, 4), np.float32)),
            tensor(2, (1, 2)),
        ],
        ops=[
            OpInfo(
                "FULLY_CONNECTED",
                (0, 1, -1),
                (2,),
                options(FusedActivationFunction=0, WeightsFormat=1, KeepNumDims=False),
            )
        ],
        inputs=(0,),
        outputs=(2,),
    )
    with pytest.raises(ModelError, match="shuffled weights"):
        graph_to_onnx(graph, "unit")


def test_unsupported_op_names_the_op_and_the_model() -> None:
    graph = TfliteGraph(
        tensors=[tensor(0, (1, 4)), tensor(1, (1, 4))],
        ops=[OpInfo("SOFTMAX", (0,), (1,))],
        inputs=(0,),
        outputs=(1,),
    )
    with pytest.raises(ModelError, match=r"my_model: the TFLite op SOFTMAX is not supported"):
        graph_to_onnx(graph, "my_model")


# ------------------------------------------------------------------------ sparse tensors


def test_densify_csr_matrix() -> None:
    dense = np.array([[0, 2, 0, 3], [0, 0, 0, 0], [5, 0, 0, 7]], np.float16)
    sparsity = Sparsity(
        traversal_order=(0, 1),
        block_map=(),
        levels=(
            DimLevel(dense_size=3),
            DimLevel(0, segments=np.array([0, 2, 2, 4]), indices=np.array([1, 3, 0, 3])),
        ),
    )
    values = np.array([2, 3, 5, 7], np.float16)
    got = densify(values, dense.shape, sparsity)
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, dense)


def test_densify_block_sparse_matrix() -> None:
    # 4x4 in 2x2 blocks; only block (0, 1) and block (1, 0) are stored.
    dense = np.zeros((4, 4), np.float32)
    dense[0:2, 2:4] = [[1, 2], [3, 4]]
    dense[2:4, 0:2] = [[5, 6], [7, 8]]
    sparsity = Sparsity(
        traversal_order=(0, 1, 2, 3),
        block_map=(0, 1),
        levels=(
            DimLevel(dense_size=2),
            DimLevel(0, segments=np.array([0, 1, 2]), indices=np.array([1, 0])),
            DimLevel(dense_size=2),
            DimLevel(dense_size=2),
        ),
    )
    values = np.arange(1, 9, dtype=np.float32)
    np.testing.assert_array_equal(densify(values, (4, 4), sparsity), dense)
