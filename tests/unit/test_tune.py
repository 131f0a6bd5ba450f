"""The tuned models: PReLU and channel-pad rewrites on small real ONNX graphs run by
onnxruntime, and the tuned copies in the cache (named by hash, private, rebuilt)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from facedubd.models import tune
from facedubd.models.layout import prelu_reference
from facedubd.models.sessions import create_session
from facedubd.models.tune import (
    TUNE_VERSION,
    cpu_key,
    rewrite_model,
    same_outputs,
    tune_bytes,
    tuned_copy,
    tuned_model_path,
)

CHANNELS = 8
SIDE = 6


def _value(name: str, channels: int) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, channels, SIDE, SIDE])


def _model(nodes: list[onnx.NodeProto], inits: dict[str, np.ndarray], out_channels: int) -> bytes:
    graph = helper.make_graph(
        nodes,
        "g",
        [_value("x", CHANNELS)],
        [_value("y", out_channels)],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _slope() -> np.ndarray:
    # Slopes beyond [0, 1] too: the face mesh has -1.6 to 1.4.
    return np.linspace(-1.6, 1.4, CHANNELS, dtype=np.float32).reshape(1, CHANNELS, 1, 1)


def prelu_model(seed: int = 3) -> bytes:
    """A conv then the converter's PReLU, Relu(x) + slope * Min(x, 0), then a conv."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(CHANNELS, CHANNELS, 1, 1)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[1, 1]),
        helper.make_node("Relu", ["c"], ["pos"]),
        helper.make_node("Min", ["c", "zero"], ["neg"]),
        helper.make_node("Mul", ["neg", "slope"], ["scaled"]),
        helper.make_node("Add", ["pos", "scaled"], ["p"]),
        helper.make_node("Conv", ["p", "w", "b"], ["y"], kernel_shape=[1, 1]),
    ]
    inits = {
        "w": weights,
        "b": rng.normal(size=CHANNELS).astype(np.float32),
        "zero": np.array(0.0, np.float32),
        "slope": _slope(),
    }
    return _model(nodes, inits, CHANNELS)


def pad_model() -> bytes:
    """A residual block that widens: MaxPool, zero channels padded on, plus a conv."""
    rng = np.random.default_rng(4)
    nodes = [
        helper.make_node("MaxPool", ["x"], ["m"], kernel_shape=[1, 1]),
        helper.make_node("Pad", ["m", "pads"], ["padded"], mode="constant"),
        helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[1, 1]),
        helper.make_node("Add", ["padded", "c"], ["y"]),
    ]
    inits = {
        "pads": np.array([0, 0, 0, 0, 0, CHANNELS, 0, 0], np.int64),
        "w": rng.normal(size=(2 * CHANNELS, CHANNELS, 1, 1)).astype(np.float32),
        "b": rng.normal(size=2 * CHANNELS).astype(np.float32),
    }
    return _model(nodes, inits, 2 * CHANNELS)


def _run(data: bytes, x: np.ndarray) -> np.ndarray:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"x": x})[0])


def _input(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(1, CHANNELS, SIDE, SIDE)).astype(np.float32)


def _ops(data: bytes) -> list[str]:
    return [node.op_type for node in onnx.load_from_string(data).graph.node]


def test_prelu_becomes_two_depthwise_convs_with_the_same_numbers() -> None:
    original = prelu_model()
    tuned = tune_bytes(original)
    assert tuned is not None
    assert "Min" not in _ops(tuned) and "Mul" not in _ops(tuned)
    assert _ops(tuned).count("Conv") == 4  # the two of the model, two depthwise
    for seed in range(3):
        x = _input(seed)
        assert np.array_equal(_run(tuned, x), _run(original, x))


def test_the_rewritten_prelu_is_prelu_for_any_slope() -> None:
    # The PReLU alone: conv-free model whose output is the PReLU of its input.
    nodes = [
        helper.make_node("Relu", ["x"], ["pos"]),
        helper.make_node("Min", ["x", "zero"], ["neg"]),
        helper.make_node("Mul", ["neg", "slope"], ["scaled"]),
        helper.make_node("Add", ["pos", "scaled"], ["y"]),
    ]
    original = _model(nodes, {"zero": np.array(0.0, np.float32), "slope": _slope()}, CHANNELS)
    tuned = tune_bytes(original)
    assert tuned is not None
    x = _input(1)
    assert np.array_equal(_run(tuned, x), prelu_reference(x, _slope()))


def test_a_channel_pad_becomes_an_exact_identity_conv() -> None:
    original = pad_model()
    tuned = tune_bytes(original)
    assert tuned is not None
    # The model's conv, the pad's identity, and an identity of weight 1 that keeps
    # onnxruntime from fusing the residual addition into the model's conv (where it would
    # add the residual before the bias, rounding otherwise).
    assert "Pad" not in _ops(tuned) and _ops(tuned).count("Conv") == 3
    for seed in range(3):
        x = _input(seed)
        assert np.array_equal(_run(tuned, x), _run(original, x))


def test_the_face_mesh_is_rewritten_to_the_same_bits(model_paths: dict[str, Path]) -> None:
    """On the real face mesh: no PReLU, Min or Pad left, and bit-identical outputs; the
    identities in front of the additions onnxruntime leaves apart are what makes them
    identical (without them it adds the residual before the bias, rounding otherwise)."""
    original = model_paths["face_landmark"].read_bytes()
    tuned = tune_bytes(original)
    assert tuned is not None
    assert not {"Min", "Mul", "Pad", "PRelu"} & set(_ops(tuned))
    bare = onnx.load_from_string(original)
    rewrite_model(bare)
    sessions = {
        kind: ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        for kind, data in (
            ("source", original),
            ("tuned", tuned),
            ("bare", bare.SerializeToString()),
        )
    }
    name = sessions["source"].get_inputs()[0].name
    differs = []
    for seed in range(3):
        x = np.random.default_rng(seed).random((1, 192, 192, 3), dtype=np.float32)
        out = {kind: s.run(None, {name: x}) for kind, s in sessions.items()}
        for a, b in zip(out["source"], out["tuned"], strict=True):
            assert np.array_equal(a, b)
        differs.append(
            any(not np.array_equal(a, b) for a, b in zip(out["source"], out["bare"], strict=True))
        )
    assert any(differs)


def test_a_spatial_pad_is_left_alone() -> None:
    nodes = [helper.make_node("Pad", ["x", "pads"], ["y"], mode="constant")]
    pads = np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)
    graph = helper.make_graph(
        nodes,
        "g",
        [_value("x", CHANNELS)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, CHANNELS, SIDE + 2, SIDE + 2])],
        [numpy_helper.from_array(pads, "pads")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    assert rewrite_model(model) == 0
    assert tune_bytes(model.SerializeToString()) is None


def test_a_min_feeding_something_else_is_not_taken_for_a_prelu() -> None:
    nodes = [
        helper.make_node("Relu", ["x"], ["pos"]),
        helper.make_node("Min", ["x", "zero"], ["neg"]),
        helper.make_node("Mul", ["neg", "slope"], ["scaled"]),
        helper.make_node("Add", ["pos", "scaled"], ["p"]),
        helper.make_node("Add", ["p", "neg"], ["y"]),  # the Min's output is used again
    ]
    original = _model(nodes, {"zero": np.array(0.0, np.float32), "slope": _slope()}, CHANNELS)
    with pytest.raises(ValueError, match="feeds more than its PReLU"):
        tune_bytes(original)


def test_same_outputs_tells_a_changed_model_apart() -> None:
    original = prelu_model()
    tuned = tune_bytes(original)
    assert tuned is not None and same_outputs(original, tuned)
    assert not same_outputs(original, prelu_model(seed=5))  # other weights
    assert not same_outputs(original, pad_model())  # another output shape


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_tuned_copy_is_private_keyed_on_the_hash_and_rebuilt(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    source = tmp_path / "net.onnx"
    source.write_bytes(prelu_model())
    first = tuned_model_path(source, cache)
    assert first.parent == cache / "models" / "tuned"
    assert first.name.startswith("net.") and f".v{TUNE_VERSION}.ort{ort.__version__}." in first.name
    assert _mode(first) == 0o600 and _mode(first.parent) == 0o700
    assert "Min" not in _ops(first.read_bytes())
    written = first.stat().st_mtime_ns
    assert tuned_model_path(source, cache) == first and first.stat().st_mtime_ns == written

    first.unlink()  # missing: rebuilt
    assert tuned_model_path(source, cache) == first and first.is_file()

    source.write_bytes(pad_model())  # a reconverted source: a new copy, the old one gone
    second = tuned_model_path(source, cache)
    assert second != first and not first.exists()
    assert "Pad" not in _ops(second.read_bytes())


def test_a_model_no_rewrite_applies_to_is_copied_as_it_is(tmp_path: Path) -> None:
    nodes = [helper.make_node("Relu", ["x"], ["y"])]
    source = tmp_path / "plain.onnx"
    source.write_bytes(_model(nodes, {}, CHANNELS))
    copy = tuned_model_path(source, tmp_path / "cache")
    assert copy != source and copy.read_bytes() == source.read_bytes()


def test_cpu_key_follows_the_instruction_set_flags() -> None:
    avx2 = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\nbugs\t\t: none\n"
    avx512 = avx2.replace("fma", "fma avx512f")
    assert cpu_key(avx2, "x86_64") == cpu_key(avx2 + "processor\t: 1\n", "x86_64")
    assert len({cpu_key(avx2, "x86_64"), cpu_key(avx512, "x86_64"), cpu_key(avx2, "arm")}) == 3


def test_sessions_reuse_onnxruntimes_optimised_graph_saved_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACEDUB_CACHE_DIR", str(tmp_path / "cache"))
    source = tmp_path / "net.onnx"
    source.write_bytes(prelu_model())
    tuned = tuned_model_path(source)
    session = create_session(tuned, "cpu", 1, reuse_optimized=True)
    folder = tmp_path / "cache" / "models" / "optimized"
    (saved,) = folder.iterdir()
    assert saved.name == f"{tuned.stem}.optimized.onnx"
    assert _mode(saved) == 0o600 and _mode(folder) == 0o700
    # onnxruntime's own graph: blocked-layout nodes, opened with optimisation off
    assert any(n.domain == "com.microsoft.nchwc" for n in onnx.load(saved).graph.node)
    options = session.get_session_options()
    assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    x = _input(6)
    plain = create_session(tuned, "cpu", 1)
    assert np.array_equal(session.run(None, {"x": x})[0], plain.run(None, {"x": x})[0])
    written = saved.stat().st_mtime_ns
    create_session(tuned, "cpu", 1, reuse_optimized=True)
    assert [saved] == list(folder.iterdir()) and saved.stat().st_mtime_ns == written


def test_a_jobs_models_are_rewritten_only_where_the_bits_stay_the_same(
    model_paths: dict[str, Path],
) -> None:
    """The tracker feeds each frame's mesh into the next frame's crop, so any numerical
    change of a model becomes another track: a rewrite is kept only when bit-identical."""
    mesh = tuned_copy("face_landmark", model_paths["face_landmark"])
    assert f".v{TUNE_VERSION}." in mesh.name and "Min" not in _ops(mesh.read_bytes())
    hand = tuned_copy("hand_landmark_lite", model_paths["hand_landmark_lite"])
    assert hand.read_bytes() == model_paths["hand_landmark_lite"].read_bytes()  # no PReLU


def test_an_optimised_graph_that_differs_is_refused_once_not_per_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused, it was built and checked again by every later session (three sessions'
    creation each time, every job); the refusal is now kept in the cache."""
    monkeypatch.setenv("FACEDUB_CACHE_DIR", str(tmp_path / "cache"))
    source = tmp_path / "net.onnx"
    source.write_bytes(prelu_model())
    tuned = tuned_model_path(source)
    checks: list[Path] = []

    def differs(source: Path, optimized: Path, loaded: object) -> bool:
        checks.append(optimized)
        return False

    monkeypatch.setattr(tune, "_runs_alike", differs)
    for _ in range(2):
        session = create_session(tuned, "cpu", 1, reuse_optimized=True)
        options = session.get_session_options()
        assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert len(checks) == 1
    folder = tmp_path / "cache" / "models" / "optimized"
    (marker,) = folder.iterdir()
    assert marker.name == f"{tuned.stem}.optimized.onnx.refused"
    assert _mode(marker) == 0o600 and marker.read_bytes() == b""


def test_partial_copies_a_stopped_process_left_are_removed_when_the_copies_are_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A daemon stopped while its models were first tuned or optimised leaves without its
    cleanup (os._exit); its temp files stayed in the cache for good, one per such stop."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("FACEDUB_CACHE_DIR", str(cache))
    tuned_dir, optimized_dir = cache / "models" / "tuned", cache / "models" / "optimized"
    for folder in (tuned_dir, optimized_dir):
        folder.mkdir(parents=True)
        (folder / ".net.0123456789abcdef.v1.onnx.k3j_x9q.tmp").write_bytes(b"partial")
        (folder / ".other.0123456789abcdef.v1.onnx.a1b2c3d.tmp").write_bytes(b"busy")
    source = tmp_path / "net.onnx"
    source.write_bytes(prelu_model())
    tuned = tuned_model_path(source)
    create_session(tuned, "cpu", 1, reuse_optimized=True)
    assert sorted(p.name for p in tuned_dir.iterdir()) == [
        ".other.0123456789abcdef.v1.onnx.a1b2c3d.tmp",  # another model's: not this one's to judge
        tuned.name,
    ]
    assert sorted(p.name for p in optimized_dir.iterdir()) == [
        ".other.0123456789abcdef.v1.onnx.a1b2c3d.tmp",
        f"{tuned.stem}.optimized.onnx",
    ]
