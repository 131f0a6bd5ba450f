"""Pure layout arithmetic for TFLite (NHWC) to ONNX (NCHW) conversion, unit-tested alone."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

#: Where each NHWC axis sits in NCHW.
NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1}
TO_NCHW = (0, 3, 1, 2)
TO_NHWC = (0, 2, 3, 1)


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TF "SAME" padding along one axis: the output is ceil(size / stride) and the odd
    extra pixel goes after (bottom/right)."""
    out = -(-size // stride)
    effective = (kernel - 1) * dilation + 1
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def conv_pads(
    padding_same: bool,
    in_hw: tuple[int, int],
    kernel_hw: tuple[int, int],
    stride_hw: tuple[int, int],
    dilation_hw: tuple[int, int] = (1, 1),
) -> list[int]:
    """ONNX `pads` [top, left, bottom, right] for a 2-D window op."""
    if not padding_same:
        return [0, 0, 0, 0]
    top, bottom = same_padding(in_hw[0], kernel_hw[0], stride_hw[0], dilation_hw[0])
    left, right = same_padding(in_hw[1], kernel_hw[1], stride_hw[1], dilation_hw[1])
    return [top, left, bottom, right]


def transpose_conv_pads(
    in_hw: tuple[int, int],
    out_hw: tuple[int, int],
    kernel_hw: tuple[int, int],
    stride_hw: tuple[int, int],
) -> tuple[list[int], list[int]]:
    """ONNX ConvTranspose (`pads`, `output_padding`) that give exactly `out_hw`: what the
    full transposed convolution makes beyond it is cropped, the smaller half first."""
    begin: list[int] = []
    end: list[int] = []
    extra: list[int] = []
    for size, out, kernel, stride in zip(in_hw, out_hw, kernel_hw, stride_hw, strict=True):
        total = stride * (size - 1) + kernel - out
        if total >= 0:
            begin.append(total // 2)
            end.append(total - total // 2)
            extra.append(0)
        else:
            begin.append(0)
            end.append(0)
            extra.append(-total)
    return begin + end, extra


def conv_weights(ohwi: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """CONV_2D filters OHWI to ONNX OIHW."""
    return np.ascontiguousarray(ohwi.transpose(0, 3, 1, 2))


def depthwise_weights(one_hw_cm: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """DEPTHWISE_CONV_2D filters [1, KH, KW, C*M] to ONNX [C*M, 1, KH, KW] (group = C)."""
    if one_hw_cm.shape[0] != 1:
        raise ValueError(f"depthwise filters must have a leading 1, got {one_hw_cm.shape}")
    return np.ascontiguousarray(one_hw_cm.transpose(3, 0, 1, 2))


def transpose_conv_weights(ohwi: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Transposed-convolution filters OHWI (O = output channels) to ONNX [Cin, Cout, KH, KW]."""
    return np.ascontiguousarray(ohwi.transpose(3, 0, 1, 2))


def nchw_broadcast(constant: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """A constant that broadcasts against an NHWC tensor, reshaped to broadcast the same
    way against the NCHW tensor: left-pad the shape with 1s to rank 4, then transpose."""
    if constant.ndim == 0:
        return constant
    if constant.ndim > 4:
        raise ValueError(f"cannot broadcast a rank-{constant.ndim} constant against NCHW")
    padded = constant.reshape((1,) * (4 - constant.ndim) + constant.shape)
    return np.ascontiguousarray(padded.transpose(TO_NCHW))


def nchw_pads(pairs: npt.NDArray[np.int64]) -> list[int]:
    """TFLite PAD pairs [[n0, n1], [h0, h1], [w0, w1], [c0, c1]] as ONNX pads for NCHW."""
    if pairs.shape != (4, 2):
        raise ValueError(f"PAD pairs for a rank-4 tensor must be 4x2, got {pairs.shape}")
    order = [0, 3, 1, 2]
    return [int(pairs[a, 0]) for a in order] + [int(pairs[a, 1]) for a in order]


def plain_pads(pairs: npt.NDArray[np.int64]) -> list[int]:
    """TFLite PAD pairs as ONNX pads for a tensor kept in TFLite's own layout."""
    return [int(p) for p in pairs[:, 0]] + [int(p) for p in pairs[:, 1]]


def prelu_reference(
    x: npt.NDArray[np.float32], slope: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """PReLU as defined: x where x >= 0, slope * x elsewhere."""
    return np.where(x >= 0, x, slope * x).astype(np.float32)


def prelu_rewritten(
    x: npt.NDArray[np.float32], slope: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """The form the converter emits: Relu(x) + slope * Min(x, 0) (fast in onnxruntime)."""
    return (np.maximum(x, 0) + slope * np.minimum(x, 0)).astype(np.float32)
