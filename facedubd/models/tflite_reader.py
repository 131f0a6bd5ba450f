"""Read a TFLite flatbuffer into plain Python objects: tensors (with constant data) and
operators (with their options), so the converter never touches flatbuffer tables."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import numpy.typing as npt
import tflite

from facedubd.errors import ModelError
from facedubd.models.sparse import DimLevel, Sparsity

CUSTOM_OPCODE = 32

_DTYPES: dict[int, Any] = {
    0: np.float32,
    1: np.float16,
    2: np.int32,
    3: np.uint8,
    4: np.int64,
    6: np.bool_,
    7: np.int16,
    9: np.int8,
    10: np.float64,
}

#: Builtin op name -> its options class (only ops whose options the converter reads).
_OPTIONS: dict[str, type] = {
    "CONV_2D": tflite.Conv2DOptions,
    "DEPTHWISE_CONV_2D": tflite.DepthwiseConv2DOptions,
    "AVERAGE_POOL_2D": tflite.Pool2DOptions,
    "MAX_POOL_2D": tflite.Pool2DOptions,
    "ADD": tflite.AddOptions,
    "MUL": tflite.MulOptions,
    "CONCATENATION": tflite.ConcatenationOptions,
    "RESIZE_BILINEAR": tflite.ResizeBilinearOptions,
    "DEPTH_TO_SPACE": tflite.DepthToSpaceOptions,
    "MEAN": tflite.ReducerOptions,
    "FULLY_CONNECTED": tflite.FullyConnectedOptions,
}


@dataclasses.dataclass
class TensorInfo:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: Any
    data: npt.NDArray[Any] | None
    sparsity: Sparsity | None = None
    scale: npt.NDArray[np.float32] | None = None
    zero_point: npt.NDArray[np.int64] | None = None
    quantized_dimension: int = 0


@dataclasses.dataclass
class OpInfo:
    kind: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: Any = None
    custom_options: bytes = b""


@dataclasses.dataclass
class TfliteGraph:
    tensors: list[TensorInfo]
    ops: list[OpInfo]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


def _index_vector(table: Any, kind: int) -> npt.NDArray[np.int64]:
    vector_class = {1: tflite.Int32Vector, 2: tflite.Uint16Vector, 3: tflite.Uint8Vector}[kind]
    vector = vector_class()
    vector.Init(table.Bytes, table.Pos)
    return np.asarray(vector.ValuesAsNumpy(), dtype=np.int64)


def _read_sparsity(params: Any) -> Sparsity:
    levels = []
    for i in range(params.DimMetadataLength()):
        meta = params.DimMetadata(i)
        if meta.Format() == 0:
            levels.append(DimLevel(dense_size=int(meta.DenseSize())))
        else:
            levels.append(
                DimLevel(
                    dense_size=0,
                    segments=_index_vector(meta.ArraySegments(), meta.ArraySegmentsType()),
                    indices=_index_vector(meta.ArrayIndices(), meta.ArrayIndicesType()),
                )
            )
    block_map = params.BlockMapAsNumpy() if params.BlockMapLength() else []
    return Sparsity(
        traversal_order=tuple(int(v) for v in params.TraversalOrderAsNumpy()),
        block_map=tuple(int(v) for v in block_map),
        levels=tuple(levels),
    )


def _shape(tensor: Any) -> tuple[int, ...]:
    if tensor.ShapeLength() == 0:
        return ()
    return tuple(int(d) for d in tensor.ShapeAsNumpy())


def _read_tensor(model: Any, tensor: Any, index: int) -> TensorInfo:
    kind = tensor.Type()
    if kind not in _DTYPES:
        raise ModelError(f"tensor {index} has an unsupported TFLite type {kind}")
    dtype = _DTYPES[kind]
    shape = _shape(tensor)
    raw = model.Buffers(tensor.Buffer()).DataAsNumpy()
    sparsity = tensor.Sparsity()
    data = None
    if not isinstance(raw, int) and raw.size:
        flat = np.frombuffer(raw.tobytes(), dtype=dtype)
        data = flat if sparsity is not None else flat.reshape(shape)
    info = TensorInfo(
        index=index,
        name=tensor.Name().decode(),
        shape=shape,
        dtype=dtype,
        data=data,
        sparsity=None if sparsity is None else _read_sparsity(sparsity),
    )
    quant = tensor.Quantization()
    if quant is not None and quant.ScaleLength():
        info.scale = np.asarray(quant.ScaleAsNumpy(), dtype=np.float32)
        info.zero_point = np.asarray(quant.ZeroPointAsNumpy(), dtype=np.int64)
        info.quantized_dimension = int(quant.QuantizedDimension())
    return info


def _op_kind(model: Any, op: Any) -> str:
    code = model.OperatorCodes(op.OpcodeIndex())
    builtin = max(int(code.BuiltinCode()), int(code.DeprecatedBuiltinCode()))
    if builtin == CUSTOM_OPCODE:
        return "CUSTOM:" + (code.CustomCode() or b"").decode()
    return str(tflite.opcode2name(builtin))


def _read_op(model: Any, op: Any) -> OpInfo:
    kind = _op_kind(model, op)
    options = None
    table = op.BuiltinOptions()
    if kind in _OPTIONS and table is not None:
        options = _OPTIONS[kind]()
        options.Init(table.Bytes, table.Pos)
    custom = op.CustomOptionsAsNumpy() if op.CustomOptionsLength() else None
    return OpInfo(
        kind=kind,
        inputs=tuple(int(i) for i in op.InputsAsNumpy()) if op.InputsLength() else (),
        outputs=tuple(int(i) for i in op.OutputsAsNumpy()),
        options=options,
        custom_options=b"" if custom is None else bytes(custom.tobytes()),
    )


def read_tflite(buffer: bytes, model_name: str) -> TfliteGraph:
    """Parse a .tflite flatbuffer with one subgraph."""
    try:
        model = tflite.Model.GetRootAsModel(buffer, 0)
        if model.SubgraphsLength() != 1:
            raise ModelError(
                f"{model_name}: {model.SubgraphsLength()} subgraphs, the converter handles one"
            )
        graph = model.Subgraphs(0)
        tensors = [_read_tensor(model, graph.Tensors(i), i) for i in range(graph.TensorsLength())]
        ops = [_read_op(model, graph.Operators(i)) for i in range(graph.OperatorsLength())]
        inputs = tuple(int(i) for i in graph.InputsAsNumpy())
        outputs = tuple(int(i) for i in graph.OutputsAsNumpy())
    except ModelError:
        raise
    except Exception as exc:  # a damaged flatbuffer raises anything from struct to IndexError
        raise ModelError(f"{model_name}: not a readable TFLite model ({exc})") from None
    return TfliteGraph(tensors=tensors, ops=ops, inputs=inputs, outputs=outputs)
