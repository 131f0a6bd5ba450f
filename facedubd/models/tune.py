"""Graph rewrites that let onnxruntime's CPU kernels run the converted models faster with
the same bits, and the tuned and optimised copies kept in the model cache.

onnxruntime runs convolutions in a blocked channel layout (NCHWc) and fuses activations
and residual additions into them, but only for the ops it knows in that layout (Conv,
pooling, Relu, Add, ...). Two patterns of the converted MediaPipe models fall outside:

- PReLU, written by the converter as `Relu(x) + slope * Min(x, 0)` (a PRelu op is slower
  still): `Min` and the per-channel `Mul` are not NCHWc ops, so every PReLU made
  onnxruntime convert the tensor out of its blocked layout and back (23 times in the face
  mesh). Here it becomes `Relu(x) + (-slope) * Relu(-x)`, two 1x1 depthwise convolutions
  (-1 with a fused Relu; -slope with Relu(x) added as a fused sum), which rounds exactly
  as the converter's form: where x < 0 it is 0 + slope * x, where x >= 0 it is x + 0.
- Zero channels padded onto a residual branch (`Pad` on the channel axis, where a block
  widens): a 1x1 convolution with an identity-and-zeros kernel, exact too.

Once in the blocked layout, onnxruntime would fuse residual additions it used to leave
apart into the convolution feeding them, adding the residual before the bias: another
rounding. An identity depthwise convolution (weight 1) in front of that convolution's
output takes the fusion instead, so each addition rounds as before. The face tracker
feeds each frame's mesh into the next frame's crop, a loop that turns any difference,
even 1e-5 of a pixel, into a different track (up to 3.7 px on hand-covered frames), so
a tuned copy is kept only when its outputs are bit-identical to the source's; otherwise
the source is copied as it is.

On the face mesh model onnxruntime's optimised graph goes from 220 nodes (57 layout
conversions, 109 elementwise) to 142 (111 convolutions, 23 Relu, no layout conversion
inside), and a model call from about 3.2 to 2.5 ms on one thread (median, load 2-3). The
short-range detector is rewritten too; the other models of a job have neither pattern.

A tuned copy is written once to `<cache>/models/tuned/`, named after its source model,
the source's sha256, the rewrite version, onnxruntime's version and the CPU (what it
fuses decides whether the bits stay the same), 0600 in a 0700 folder, and rebuilt when
missing. On the CPU, sessions then open onnxruntime's own optimised graph of it, saved
once in `<cache>/models/optimized/` (also checked bit-identical), which halves a
session's creation."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import platform
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

#: Bump when the rewrites change: tuned copies of an older version are then rebuilt.
TUNE_VERSION = 1
TUNED_DIR = "tuned"


def _initializers(graph: Any) -> dict[str, np.ndarray]:
    from onnx import numpy_helper

    return {init.name: numpy_helper.to_array(init) for init in graph.initializer}


def _prelu_parts(
    add: Any, producers: dict[str, Any], constants: dict[str, np.ndarray]
) -> tuple[str, np.ndarray, list[Any]] | None:
    """(x, per-channel slope, the three nodes it replaces besides `add`) when `add` is
    the converter's `Relu(x) + Mul(Min(x, 0), slope)` on a rank-4 NCHW tensor."""
    if add.op_type != "Add" or len(add.input) != 2:
        return None
    first, second = (producers.get(name) for name in add.input)
    if first is None or second is None:
        return None
    if first.op_type == "Mul":
        first, second = second, first
    if first.op_type != "Relu" or second.op_type != "Mul":
        return None
    minimum = producers.get(second.input[0])
    slope = constants.get(second.input[1])
    if minimum is None or minimum.op_type != "Min" or slope is None:
        return None
    x = first.input[0]
    zero = constants.get(minimum.input[1])
    if minimum.input[0] != x or zero is None or zero.size != 1 or float(zero.ravel()[0]) != 0.0:
        return None
    if slope.ndim != 4 or slope.shape[0] != 1 or slope.shape[2:] != (1, 1):
        return None
    return x, slope.reshape(-1).astype(np.float32), [first, second, minimum]


def _channel_pad(pad: Any, constants: dict[str, np.ndarray]) -> int:
    """How many zero channels a `Pad` appends at the end of a rank-4 tensor's channel
    axis, when that is all it does (else 0)."""
    if pad.op_type != "Pad" or len(pad.input) < 2:
        return 0
    modes = [a.s for a in pad.attribute if a.name == "mode"]
    if modes and modes[0] != b"constant":
        return 0
    if len(pad.input) > 2 and pad.input[2]:
        value = constants.get(pad.input[2])
        if value is None or value.size != 1 or float(value.ravel()[0]) != 0.0:
            return 0
    if len(pad.input) > 3 and pad.input[3]:
        return 0  # an axes input: not the plain form the converter writes
    pads = constants.get(pad.input[1])
    if pads is None or pads.shape != (8,):
        return 0
    others = [int(v) for i, v in enumerate(pads) if i != 5]
    return int(pads[5]) if not any(others) and int(pads[5]) > 0 else 0


def _from_conv(name: str, producers: dict[str, Any]) -> bool:
    node = producers.get(name)
    return node is not None and node.op_type == "Conv"


def _channels(model: Any) -> dict[str, int]:
    """The channel count (axis 1) of every rank-4 value whose shape inference knows it."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    found: dict[str, int] = {}
    values = [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]
    for value in values:
        dims = value.type.tensor_type.shape.dim
        if len(dims) == 4 and dims[1].HasField("dim_value"):
            found[value.name] = int(dims[1].dim_value)
    return found


def rewrite_model(model: Any, unfused_adds: frozenset[str] = frozenset()) -> int:
    """Rewrite `model` (an onnx ModelProto) in place; the number of rewrites made.

    `unfused_adds`: the outputs of the Add nodes onnxruntime leaves as separate additions
    in the original graph (unfused_additions). Once the PReLUs are convolutions it would
    fuse those into the convolution that feeds them, which adds in another order (the
    sum before the bias) and rounds differently; an exact identity (a 1x1 depthwise
    convolution of weight 1) in front of that input takes the fusion instead, so the
    addition is rounded as before."""
    from onnx import helper, numpy_helper

    graph = model.graph
    nodes = list(graph.node)
    producers = {output: node for node in nodes for output in node.output}
    constants = _initializers(graph)
    channels = _channels(model)
    replaced: dict[int, list[Any]] = {}
    dropped: set[int] = set()
    added: list[Any] = []
    names = {*constants, *(o for node in nodes for o in node.output)}

    def constant(hint: str, value: np.ndarray) -> str:
        name, n = f"{hint}_tuned", 0
        while name in names:
            n += 1
            name = f"{hint}_tuned{n}"
        names.add(name)
        added.append(numpy_helper.from_array(np.ascontiguousarray(value, np.float32), name))
        return name

    def depthwise(x: str, weights: np.ndarray, out: str) -> Any:
        count = weights.size
        kernel = constant(f"{out}_w", weights.reshape(count, 1, 1, 1))
        bias = constant(f"{out}_b", np.zeros(count, np.float32))
        return helper.make_node("Conv", [x, kernel, bias], [out], group=count, kernel_shape=[1, 1])

    for node in nodes:
        prelu = _prelu_parts(node, producers, constants)
        if prelu is not None and all(id(n) not in dropped for n in prelu[2]):
            x, slope, parts = prelu
            out = node.output[0]
            positive, negated, rectified, scaled = (
                f"{out}_{s}_tuned" for s in ("relu", "neg", "negrelu", "scaled")
            )
            names.update((positive, negated, rectified, scaled))
            # relu(x) + (-slope) * relu(-x): where x < 0 that is 0 + slope * x, where x >= 0
            # it is x + 0, each rounded once: the converter's numbers exactly.
            replaced[id(node)] = [
                helper.make_node("Relu", [x], [positive]),
                depthwise(x, -np.ones_like(slope), negated),
                helper.make_node("Relu", [negated], [rectified]),
                depthwise(rectified, -slope, scaled),
                helper.make_node("Add", [scaled, positive], [out]),
            ]
            dropped.update(id(n) for n in parts)
            continue
        extra = _channel_pad(node, constants)
        have = channels.get(node.input[0], 0) if extra else 0
        if have:
            kernel = np.zeros((have + extra, have, 1, 1), np.float32)
            kernel[np.arange(have), np.arange(have)] = 1.0
            out = node.output[0]
            weights = constant(f"{out}_w", kernel)
            bias = constant(f"{out}_b", np.zeros(have + extra, np.float32))
            inputs = [node.input[0], weights, bias]
            replaced[id(node)] = [helper.make_node("Conv", inputs, [out], kernel_shape=[1, 1])]

    for node in nodes if replaced else []:
        if node.op_type != "Add" or id(node) in replaced or node.output[0] not in unfused_adds:
            continue
        fed = [i for i, name in enumerate(node.input) if _from_conv(name, producers)]
        count = channels.get(node.input[fed[0]], 0) if fed else 0
        if count:
            index = fed[0]
            kept_apart = f"{node.input[index]}_apart_tuned"
            names.add(kept_apart)
            inputs = list(node.input)
            inputs[index] = kept_apart
            replaced[id(node)] = [
                depthwise(node.input[index], np.ones(count, np.float32), kept_apart),
                helper.make_node("Add", inputs, list(node.output)),
            ]

    if not replaced:
        return 0
    # A dropped node's outputs must feed nothing but the pattern that replaced it.
    consumers: dict[str, int] = {}
    for node in nodes:
        for name in node.input:
            consumers[name] = consumers.get(name, 0) + 1
    for node in nodes:
        if id(node) in dropped and any(consumers.get(o, 0) != 1 for o in node.output):
            raise ValueError(f"node {node.name or node.op_type} feeds more than its PReLU")
    kept: list[Any] = []
    for node in nodes:
        if id(node) in replaced:
            kept.extend(replaced[id(node)])
        elif id(node) not in dropped:
            kept.append(node)
    del graph.node[:]
    graph.node.extend(kept)
    graph.initializer.extend(added)
    used = {name for node in graph.node for name in node.input}
    unused = [init for init in graph.initializer if init.name not in used]
    for init in unused:
        graph.initializer.remove(init)
    return len(replaced)


def unfused_additions(data: bytes) -> frozenset[str]:
    """The outputs of the Add nodes of the ONNX model `data` that onnxruntime's CPU
    optimisations leave as separate additions (the others it fuses into a convolution)."""
    import onnx
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as folder:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = 1
        options.optimized_model_filepath = str(Path(folder) / "optimized.onnx")
        ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        optimized = onnx.load(options.optimized_model_filepath)
    kept = {node.output[0] for node in optimized.graph.node if node.op_type == "Add"}
    return frozenset(kept)


def tune_bytes(data: bytes) -> bytes | None:
    """The tuned model for the ONNX model `data`, or None when no rewrite applies."""
    import onnx

    if rewrite_model(onnx.load_from_string(data)) == 0:
        return None  # nothing to rewrite: no need to ask onnxruntime what it fuses
    model = onnx.load_from_string(data)
    rewrite_model(model, unfused_additions(data))
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def same_outputs(original: bytes, tuned: bytes, tolerance: float = 1e-3) -> bool:
    """Whether the two models give the same outputs, within `tolerance` of each output's
    largest magnitude, on a fixed random input in [0, 1] (the check before a tuned copy
    is kept)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 1
    runs = []
    for data in (original, tuned):
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        feed = {}
        for index, arg in enumerate(session.get_inputs()):
            shape = [d if isinstance(d, int) and d > 0 else 1 for d in arg.shape]
            rng = np.random.default_rng(index)
            feed[arg.name] = rng.random(shape, dtype=np.float32)
        runs.append([np.asarray(out, np.float64) for out in session.run(None, feed)])
    for before, after in zip(*runs, strict=True):
        if before.shape != after.shape:
            return False
        scale = max(float(np.abs(before).max(initial=0.0)), 1.0)
        if float(np.abs(before - after).max(initial=0.0)) > tolerance * scale:
            return False
    return True


def tuned_name(source: Path, sha256: str) -> str:
    """The tuned copy's file name: the source's stem, its hash, the rewrite version,
    onnxruntime's version and the CPU's key (whether a rewrite rounds exactly as the
    source depends on what onnxruntime fuses there)."""
    import onnxruntime as ort

    version = f"v{TUNE_VERSION}.ort{ort.__version__}"
    return f"{source.stem}.{sha256[:16]}.{version}.{_this_cpu() or 'cpu'}.onnx"


def remove_partials(folder: Path, model: str) -> None:
    """Remove the temp files a process stopped mid-write left in `folder` for `model`
    (`.<model>.….tmp`: a daemon stopped while its models were first tuned or optimised
    exits without its cleanup). Call with the cache lock held: no writer is then busy."""
    for partial in folder.glob(f".{model}.*.tmp"):
        with contextlib.suppress(OSError):
            partial.unlink()


def tuned_model_path(source: Path, cache: Path | None = None, sha256: str | None = None) -> Path:
    """The tuned copy of the converted model `source`, written on first use and keyed on
    the source's sha256 (`sha256`: that hash when the caller has just checked it, e.g.
    `ensure_models` against its record; else it is computed). A model no rewrite applies
    to (or whose rewrite would change its outputs) is copied as it is, so the copy's name
    always says what it was made from (and onnxruntime's optimised graph of it can be
    keyed on that name)."""
    from facedubd.models.fetch import models_dir
    from facedubd.models.wheels import cache_lock, sha256_file, write_atomic
    from facedubd.paths import cache_dir, ensure_private_dir

    folder = models_dir(cache) / TUNED_DIR
    target = folder / tuned_name(source, sha256 or sha256_file(source))
    if target.is_file():
        return target
    with cache_lock(cache or cache_dir()):
        if target.is_file():  # another process wrote it meanwhile
            return target
        data = source.read_bytes()
        tuned = tune_bytes(data)
        if tuned is None or not same_outputs(data, tuned, tolerance=0.0):
            tuned = data
        ensure_private_dir(folder)
        remove_partials(folder, source.stem)
        for stale in folder.glob(f"{source.stem}.*.onnx"):
            if stale != target:
                with contextlib.suppress(OSError):
                    stale.unlink()
        write_atomic(target, tuned)
    return target


def tuned_copy(name: str, path: Path) -> Path:
    """tuned_model_path for the manifest model `name` at `path` (as `ensure_models` gave
    it): keyed on the hash `ensure_models` has just checked against the cache's record,
    so the file is not hashed again."""
    from facedubd.models.fetch import models_dir, read_state

    record = read_state().get(name) or {}
    recorded = record.get("onnx_sha256") if path == models_dir() / f"{name}.onnx" else None
    digest = recorded if isinstance(recorded, str) else None
    return tuned_model_path(path, sha256=digest)


# ----------------------------------------------------------------------------- optimised

OPTIMIZED_DIR = "optimized"
_CPUINFO = Path("/proc/cpuinfo")


def cpu_key(cpuinfo: str, machine: str) -> str:
    """A short key for what onnxruntime's CPU graph optimisations depend on: the machine
    type and the instruction-set flags (the NCHWc block is 8 floats with AVX2, 16 with
    AVX-512), hashed."""
    flags = next((line for line in cpuinfo.splitlines() if line.startswith("flags")), "")
    return hashlib.sha256(f"{machine}\n{flags}".encode()).hexdigest()[:16]


@functools.cache
def _this_cpu() -> str | None:
    try:
        return cpu_key(_CPUINFO.read_text(), platform.machine())
    except OSError:
        return None


def optimized_name(tuned: Path) -> str:
    """The optimised copy's file name: the tuned copy's, which names the source's hash,
    the rewrite, onnxruntime's version and the CPU."""
    return f"{tuned.stem}.optimized.onnx"


def _runs_alike(source: Path, optimized: Path, loaded: Any) -> bool:
    """Whether `optimized` (opened with `loaded`) gives exactly what `source` gives when
    onnxruntime optimises it itself, on a fixed random input."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 1
    first = ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
    second = ort.InferenceSession(str(optimized), loaded, providers=["CPUExecutionProvider"])
    feed = {}
    for index, arg in enumerate(first.get_inputs()):
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in arg.shape]
        feed[arg.name] = np.random.default_rng(index).random(shape, dtype=np.float32)
    pairs = zip(first.run(None, feed), second.run(None, feed), strict=True)
    return all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in pairs)


def optimized_model_path(
    tuned: Path, options: Any, loaded: Any, cache: Path | None = None
) -> Path | None:
    """onnxruntime's own optimised graph of the tuned copy `tuned` (from tuned_model_path:
    its name says what it holds) for this CPU, saved once so that later sessions skip the
    optimisation, about half of a session's creation (face mesh 17-23 -> 11 ms, hand
    landmarks 25 -> 7 ms). `options`: the session options that optimise (full level);
    `loaded`: the same with optimisation off, for opening the copy. Keyed also on
    onnxruntime's version and the CPU's flags (onnxruntime says such a graph holds only
    where it was made), and checked to give bit-identical outputs before it is kept. None
    where it cannot be made: the caller then opens `tuned` as usual. A graph that does
    not give the same bits is remembered (an empty `<name>.refused` beside where it would
    go), so later sessions do not build and check it again, each paying three sessions'
    creation for nothing."""
    import onnxruntime as ort

    from facedubd.models.fetch import models_dir
    from facedubd.models.wheels import cache_lock
    from facedubd.paths import cache_dir, ensure_private_dir, write_private_file

    cpu = _this_cpu()
    if cpu is None:
        return None
    folder = models_dir(cache) / OPTIMIZED_DIR
    target = folder / optimized_name(tuned)
    refused = target.with_name(f"{target.name}.refused")
    if target.is_file():
        return target
    if refused.is_file():
        return None
    with cache_lock(cache or cache_dir()):
        if target.is_file():
            return target
        if refused.is_file():
            return None
        ensure_private_dir(folder)
        model = tuned.name.split(".")[0]
        remove_partials(folder, model)
        fd, name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
        os.close(fd)
        partial = Path(name)
        try:
            options.optimized_model_filepath = str(partial)
            ort.InferenceSession(str(tuned), options, providers=["CPUExecutionProvider"])
            os.chmod(partial, 0o600)
            alike = _runs_alike(tuned, partial, loaded)
            for stale in [*folder.glob(f"{model}.*.onnx"), *folder.glob(f"{model}.*.refused")]:
                with contextlib.suppress(OSError):
                    stale.unlink()
            if not alike:
                write_private_file(refused, b"")
                return None
            os.replace(partial, target)
        except Exception:  # onnxruntime could not save or load it: open `tuned` instead
            return None
        finally:
            partial.unlink(missing_ok=True)
    return target
