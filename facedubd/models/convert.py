"""TFLite flatbuffer to ONNX: our own converter for the MediaPipe face and hand models.

Constants behind DEQUANTIZE (fp16, or int8 with scales) and DENSIFY are folded into fp32
initializers. Activations are kept NCHW inside the graph; tensors are transposed only
where an op needs TFLite's layout (RESHAPE, concatenation below rank 4) and at the graph
edges, so inputs and outputs keep TFLite's names and NHWC shapes."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

from facedubd.errors import ModelError
from facedubd.models import layout
from facedubd.models.sparse import densify
from facedubd.models.tflite_reader import OpInfo, TensorInfo, TfliteGraph, read_tflite
from facedubd.models.versions import CONVERTER_VERSION

OPSET = 17
IR_VERSION = 8

_NCHW = "nchw"
_TF = "tf"

# TFLite ActivationFunctionType
_ACT_NONE, _ACT_RELU, _ACT_RELU_N1_TO_1, _ACT_RELU6, _ACT_TANH = 0, 1, 2, 3, 4
_PADDING_SAME = 0


class _Builder:
    """Accumulates ONNX nodes and initializers while walking the TFLite ops."""

    def __init__(self, graph: TfliteGraph, model_name: str) -> None:
        self.graph = graph
        self.model_name = model_name
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.consts: dict[int, npt.NDArray[Any]] = {}
        self.held: dict[int, tuple[str, str]] = {}
        self.alternate: dict[tuple[int, str], str] = {}
        self._counter = 0

    # ------------------------------------------------------------------ names, nodes

    def fresh(self, hint: str) -> str:
        self._counter += 1
        return f"{hint}_{self._counter}"

    def node(self, op_type: str, inputs: list[str], **attrs: Any) -> str:
        out = self.fresh(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def initializer(self, array: npt.NDArray[Any], hint: str) -> str:
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def fail(self, what: str) -> ModelError:
        return ModelError(f"{self.model_name}: {what}")

    # ------------------------------------------------------------------ tensors

    def tensor(self, index: int) -> TensorInfo:
        return self.graph.tensors[index]

    def constant(self, index: int) -> npt.NDArray[Any]:
        if index in self.consts:
            return self.consts[index]
        info = self.tensor(index)
        if info.data is None or info.sparsity is not None:
            raise self.fail(f"tensor {info.name!r} must be a constant here")
        return info.data

    def is_constant(self, index: int) -> bool:
        info = self.tensor(index)
        return index in self.consts or (info.data is not None and info.sparsity is None)

    def bind(self, index: int, name: str, where: str) -> None:
        self.held[index] = (name, where)

    def rank(self, index: int) -> int:
        return len(self.tensor(index).shape)

    def _held(self, index: int) -> tuple[str, str]:
        if index not in self.held:
            raise self.fail(f"tensor {self.tensor(index).name!r} is used before it is made")
        return self.held[index]

    def as_layout(self, index: int, where: str) -> str:
        """The ONNX name of tensor `index` in layout `where` (transposing once, cached)."""
        name, held_in = self._held(index)
        if held_in == where or self.rank(index) != 4:
            return name
        key = (index, where)
        if key not in self.alternate:
            perm = layout.TO_NCHW if where == _NCHW else layout.TO_NHWC
            self.alternate[key] = self.node("Transpose", [name], perm=list(perm))
        return self.alternate[key]

    def nchw(self, index: int) -> str:
        return self.as_layout(index, _NCHW)

    def tf(self, index: int) -> str:
        return self.as_layout(index, _TF)

    def activation(self, name: str, kind: int, op: OpInfo) -> str:
        if kind == _ACT_NONE:
            return name
        if kind == _ACT_RELU:
            return self.node("Relu", [name])
        if kind in (_ACT_RELU6, _ACT_RELU_N1_TO_1):
            low, high = (0.0, 6.0) if kind == _ACT_RELU6 else (-1.0, 1.0)
            lo = self.initializer(np.array(low, np.float32), "clip_min")
            hi = self.initializer(np.array(high, np.float32), "clip_max")
            return self.node("Clip", [name, lo, hi])
        if kind == _ACT_TANH:
            return self.node("Tanh", [name])
        raise self.fail(f"{op.kind} has an unsupported fused activation ({kind})")

    def float_constant(self, index: int) -> npt.NDArray[np.float32]:
        return np.asarray(self.constant(index), dtype=np.float32)


# ---------------------------------------------------------------------- constant folding


def _dequantize(info: TensorInfo, data: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    if data.dtype == np.float16:
        return data.astype(np.float32)
    if info.scale is None or info.zero_point is None:
        raise ModelError(f"DEQUANTIZE of {info.name!r} has no quantization scales")
    shape = [1] * data.ndim
    if info.scale.size > 1:
        shape[info.quantized_dimension] = info.scale.size
    scale = info.scale.reshape(shape)
    zero = info.zero_point.reshape(shape) if info.zero_point.size > 1 else info.zero_point
    return ((data.astype(np.int64) - zero) * scale).astype(np.float32)


def _fold_dequantize(b: _Builder, op: OpInfo) -> None:
    source = op.inputs[0]
    info = b.tensor(source)
    if not b.is_constant(source):
        raise b.fail("DEQUANTIZE of a non-constant tensor is not supported")
    b.consts[op.outputs[0]] = _dequantize(info, b.constant(source))


def _fold_densify(b: _Builder, op: OpInfo) -> None:
    info = b.tensor(op.inputs[0])
    if info.sparsity is None or info.data is None:
        raise b.fail(f"DENSIFY input {info.name!r} is not a constant sparse tensor")
    b.consts[op.outputs[0]] = densify(info.data, b.tensor(op.outputs[0]).shape, info.sparsity)


# ---------------------------------------------------------------------- op handlers


def _in_hw(b: _Builder, index: int) -> tuple[int, int]:
    shape = b.tensor(index).shape
    return shape[1], shape[2]


def _bias(b: _Builder, op: OpInfo, channels: int) -> list[str]:
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        return [b.initializer(b.float_constant(op.inputs[2]).reshape(channels), "bias")]
    return []


def _conv2d(b: _Builder, op: OpInfo) -> None:
    weights = layout.conv_weights(b.float_constant(op.inputs[1]))
    _conv(b, op, weights, "weights", group=1)


def _depthwise(b: _Builder, op: OpInfo) -> None:
    weights = layout.depthwise_weights(b.float_constant(op.inputs[1]))
    _conv(b, op, weights, "dw_weights", group=b.tensor(op.inputs[0]).shape[3])


def _conv(b: _Builder, op: OpInfo, weights: np.ndarray, name: str, *, group: int) -> None:
    """One ONNX Conv for CONV_2D (group 1) or DEPTHWISE_CONV_2D (a group per input
    channel): OIHW weights, TF padding turned into explicit pads, the fused activation."""
    opt = op.options
    kernel = (weights.shape[2], weights.shape[3])
    stride = (opt.StrideH(), opt.StrideW())
    dilation = (opt.DilationHFactor(), opt.DilationWFactor())
    pads = layout.conv_pads(
        opt.Padding() == _PADDING_SAME, _in_hw(b, op.inputs[0]), kernel, stride, dilation
    )
    w = b.initializer(weights, name)
    attributes: dict[str, Any] = {"group": group} if group != 1 else {}
    out = b.node(
        "Conv",
        [b.nchw(op.inputs[0]), w, *_bias(b, op, weights.shape[0])],
        kernel_shape=list(kernel),
        strides=list(stride),
        dilations=list(dilation),
        pads=pads,
        **attributes,
    )
    b.bind(op.outputs[0], b.activation(out, opt.FusedActivationFunction(), op), _NCHW)


def _transpose_conv_bias(b: _Builder, op: OpInfo) -> None:
    if len(op.custom_options) < 12:
        raise b.fail("Convolution2DTransposeBias has no (padding, stride_w, stride_h) options")
    _padding, stride_w, stride_h = struct.unpack("<3i", op.custom_options[:12])
    weights = layout.transpose_conv_weights(b.float_constant(op.inputs[1]))
    kernel = (weights.shape[2], weights.shape[3])
    out_shape = b.tensor(op.outputs[0]).shape
    pads, extra = layout.transpose_conv_pads(
        _in_hw(b, op.inputs[0]), (out_shape[1], out_shape[2]), kernel, (stride_h, stride_w)
    )
    w = b.initializer(weights, "deconv_weights")
    out = b.node(
        "ConvTranspose",
        [b.nchw(op.inputs[0]), w, *_bias(b, op, weights.shape[1])],
        kernel_shape=list(kernel),
        strides=[stride_h, stride_w],
        pads=pads,
        output_padding=extra,
    )
    b.bind(op.outputs[0], out, _NCHW)


def _pool(onnx_op: str) -> Callable[[_Builder, OpInfo], None]:
    def handler(b: _Builder, op: OpInfo) -> None:
        opt = op.options
        kernel = (opt.FilterHeight(), opt.FilterWidth())
        stride = (opt.StrideH(), opt.StrideW())
        pads = layout.conv_pads(
            opt.Padding() == _PADDING_SAME, _in_hw(b, op.inputs[0]), kernel, stride
        )
        extra = {"count_include_pad": 0} if onnx_op == "AveragePool" else {}
        out = b.node(
            onnx_op,
            [b.nchw(op.inputs[0])],
            kernel_shape=list(kernel),
            strides=list(stride),
            pads=pads,
            **extra,
        )
        b.bind(op.outputs[0], b.activation(out, opt.FusedActivationFunction(), op), _NCHW)

    return handler


def _operand(b: _Builder, index: int, where: str) -> str:
    """An elementwise operand in layout `where`; constants are reshaped to broadcast."""
    if b.is_constant(index):
        value = b.float_constant(index)
        if where == _NCHW:
            value = layout.nchw_broadcast(value)
        return b.initializer(value, "operand")
    return b.as_layout(index, where)


def _binary(onnx_op: str) -> Callable[[_Builder, OpInfo], None]:
    def handler(b: _Builder, op: OpInfo) -> None:
        where = _NCHW if b.rank(op.outputs[0]) == 4 else _TF
        names = [_operand(b, i, where) for i in op.inputs[:2]]
        out = b.node(onnx_op, names)
        kind = op.options.FusedActivationFunction() if op.options is not None else _ACT_NONE
        b.bind(op.outputs[0], b.activation(out, kind, op), where)

    return handler


def _unary(onnx_op: str) -> Callable[[_Builder, OpInfo], None]:
    def handler(b: _Builder, op: OpInfo) -> None:
        where = b._held(op.inputs[0])[1]
        b.bind(op.outputs[0], b.node(onnx_op, [b.as_layout(op.inputs[0], where)]), where)

    return handler


def _relu6(b: _Builder, op: OpInfo) -> None:
    where = b._held(op.inputs[0])[1]
    out = b.activation(b.as_layout(op.inputs[0], where), _ACT_RELU6, op)
    b.bind(op.outputs[0], out, where)


def _prelu(b: _Builder, op: OpInfo) -> None:
    """Relu(x) + slope * Min(x, 0): the same numbers as PRelu, and much faster on CPU."""
    where = _NCHW if b.rank(op.outputs[0]) == 4 else _TF
    x = b.as_layout(op.inputs[0], where)
    slope = _operand(b, op.inputs[1], where)
    zero = b.initializer(np.array(0.0, np.float32), "zero")
    positive = b.node("Relu", [x])
    negative = b.node("Mul", [b.node("Min", [x, zero]), slope])
    b.bind(op.outputs[0], b.node("Add", [positive, negative]), where)


def _pad(b: _Builder, op: OpInfo) -> None:
    pairs = np.asarray(b.constant(op.inputs[1]), dtype=np.int64)
    if b.rank(op.inputs[0]) == 4:
        pads, where = layout.nchw_pads(pairs), _NCHW
    else:
        pads, where = layout.plain_pads(pairs), _TF
    pads_name = b.initializer(np.array(pads, np.int64), "pads")
    out = b.node("Pad", [b.as_layout(op.inputs[0], where), pads_name], mode="constant")
    b.bind(op.outputs[0], out, where)


def _reshape(b: _Builder, op: OpInfo) -> None:
    shape = b.initializer(np.array(b.tensor(op.outputs[0]).shape, np.int64), "shape")
    b.bind(op.outputs[0], b.node("Reshape", [b.tf(op.inputs[0]), shape]), _TF)


def _concatenation(b: _Builder, op: OpInfo) -> None:
    rank = b.rank(op.outputs[0])
    axis = op.options.Axis() % rank
    kind = op.options.FusedActivationFunction()
    if rank == 4:
        names = [_operand(b, i, _NCHW) for i in op.inputs]
        out = b.node("Concat", names, axis=layout.NHWC_TO_NCHW_AXIS[axis])
        b.bind(op.outputs[0], b.activation(out, kind, op), _NCHW)
        return
    names = [_operand(b, i, _TF) for i in op.inputs]
    b.bind(op.outputs[0], b.activation(b.node("Concat", names, axis=axis), kind, op), _TF)


def _resize_bilinear(b: _Builder, op: OpInfo) -> None:
    n, h, w, c = b.tensor(op.outputs[0]).shape
    if op.options.AlignCorners():
        mode = "align_corners"
    elif op.options.HalfPixelCenters():
        mode = "half_pixel"
    else:
        mode = "asymmetric"
    sizes = b.initializer(np.array([n, c, h, w], np.int64), "sizes")
    out = b.node(
        "Resize",
        [b.nchw(op.inputs[0]), "", "", sizes],
        mode="linear",
        coordinate_transformation_mode=mode,
    )
    b.bind(op.outputs[0], out, _NCHW)


def _depth_to_space(b: _Builder, op: OpInfo) -> None:
    out = b.node(
        "DepthToSpace", [b.nchw(op.inputs[0])], blocksize=op.options.BlockSize(), mode="DCR"
    )
    b.bind(op.outputs[0], out, _NCHW)


def _mean(b: _Builder, op: OpInfo) -> None:
    """MEAN over constant axes (TFLite's axes, negative allowed), keeping dims or not."""
    rank = b.rank(op.inputs[0])
    axes = sorted({int(a) % rank for a in np.asarray(b.constant(op.inputs[1])).ravel()})
    keep = bool(op.options.KeepDims()) if op.options is not None else False
    where = b._held(op.inputs[0])[1]
    if rank == 4 and (keep or where == _NCHW):
        source = b.nchw(op.inputs[0])
        onnx_axes = sorted(layout.NHWC_TO_NCHW_AXIS[a] for a in axes)
        out = b.node("ReduceMean", [source], axes=onnx_axes, keepdims=int(keep))
        # Reducing NCHW without keepdims leaves the remaining axes in TFLite's order
        # only when the channel axis is the last one kept: (N, C) for a spatial mean.
        if keep:
            b.bind(op.outputs[0], out, _NCHW)
            return
        kept = [a for a in range(4) if a not in axes]
        kept_nchw = [layout.NHWC_TO_NCHW_AXIS[a] for a in kept]
        if kept_nchw != sorted(kept_nchw):
            order = [sorted(kept_nchw).index(a) for a in kept_nchw]
            out = b.node("Transpose", [out], perm=order)
        b.bind(op.outputs[0], out, _TF)
        return
    out = b.node("ReduceMean", [b.tf(op.inputs[0])], axes=axes, keepdims=int(keep))
    b.bind(op.outputs[0], out, _TF)


def _fully_connected(b: _Builder, op: OpInfo) -> None:
    """FULLY_CONNECTED: x (..., K) flattened to (-1, K), times weights (N, K) transposed,
    plus bias, reshaped to the output tensor's shape, then the fused activation."""
    opt = op.options
    if opt is not None and opt.WeightsFormat() != 0:
        raise b.fail("FULLY_CONNECTED with shuffled weights is not supported")
    if not b.is_constant(op.inputs[1]):
        raise b.fail("FULLY_CONNECTED with non-constant weights is not supported")
    weights = b.float_constant(op.inputs[1])
    units, depth = weights.shape
    x = b.tf(op.inputs[0])
    flat = b.initializer(np.array([-1, depth], np.int64), "shape")
    x = b.node("Reshape", [x, flat])
    w = b.initializer(weights, "fc_weights")
    has_bias = len(op.inputs) > 2 and op.inputs[2] >= 0
    bias = (
        [b.initializer(b.float_constant(op.inputs[2]).reshape(units), "fc_bias")]
        if has_bias
        else []
    )
    out = b.node("Gemm", [x, w, *bias], transB=1)
    shape = b.initializer(np.array(b.tensor(op.outputs[0]).shape, np.int64), "shape")
    out = b.node("Reshape", [out, shape])
    kind = opt.FusedActivationFunction() if opt is not None else _ACT_NONE
    b.bind(op.outputs[0], b.activation(out, kind, op), _TF)


_HANDLERS: dict[str, Callable[[_Builder, OpInfo], None]] = {
    "DEQUANTIZE": _fold_dequantize,
    "DENSIFY": _fold_densify,
    "CONV_2D": _conv2d,
    "DEPTHWISE_CONV_2D": _depthwise,
    "CUSTOM:Convolution2DTransposeBias": _transpose_conv_bias,
    "MAX_POOL_2D": _pool("MaxPool"),
    "AVERAGE_POOL_2D": _pool("AveragePool"),
    "ADD": _binary("Add"),
    "MUL": _binary("Mul"),
    "RELU": _unary("Relu"),
    "RELU6": _relu6,
    "LOGISTIC": _unary("Sigmoid"),
    "TANH": _unary("Tanh"),
    "HARD_SWISH": _unary("HardSwish"),
    "PRELU": _prelu,
    "PAD": _pad,
    "RESHAPE": _reshape,
    "CONCATENATION": _concatenation,
    "RESIZE_BILINEAR": _resize_bilinear,
    "DEPTH_TO_SPACE": _depth_to_space,
    "MEAN": _mean,
    "FULLY_CONNECTED": _fully_connected,
}

SUPPORTED_OPS: frozenset[str] = frozenset(_HANDLERS)


def _value_info(info: TensorInfo, name: str) -> onnx.ValueInfoProto:
    if info.dtype is not np.float32:
        raise ModelError(f"graph edge {info.name!r} is not float32")
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(info.shape))


def _check_supported(graph: TfliteGraph, model_name: str) -> None:
    for op in graph.ops:
        if op.kind not in _HANDLERS:
            raise ModelError(
                f"{model_name}: the TFLite op {op.kind} is not supported by the converter"
            )


def graph_to_onnx(graph: TfliteGraph, model_name: str) -> onnx.ModelProto:
    """Convert a parsed TFLite graph; the result passes `onnx.checker`."""
    _check_supported(graph, model_name)
    b = _Builder(graph, model_name)
    inputs = []
    for index in graph.inputs:
        info = b.tensor(index)
        inputs.append(_value_info(info, info.name))
        b.bind(index, info.name, _TF)
    for op in graph.ops:
        _HANDLERS[op.kind](b, op)
    outputs = []
    for index in graph.outputs:
        info = b.tensor(index)
        b.nodes.append(
            helper.make_node("Identity", [b.tf(index)], [info.name], name=f"output_{index}")
        )
        outputs.append(_value_info(info, info.name))
    onnx_graph = helper.make_graph(b.nodes, model_name, inputs, outputs, b.initializers)
    model = helper.make_model(
        onnx_graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="facedubd",
        producer_version=CONVERTER_VERSION,
    )
    model.ir_version = IR_VERSION
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ModelError(f"{model_name}: the converted graph fails onnx.checker: {first}") from None
    return model


def convert_bytes(buffer: bytes, model_name: str) -> onnx.ModelProto:
    return graph_to_onnx(read_tflite(buffer, model_name), model_name)


def convert_file(path: Path, model_name: str) -> bytes:
    """Convert the .tflite at `path`; return the serialized ONNX model."""
    try:
        buffer = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{model_name}: cannot read {path.name}: {exc.strerror}") from None
    return convert_bytes(buffer, model_name).SerializeToString()
