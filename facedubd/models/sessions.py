"""The one place onnxruntime sessions are made: device choice, threads, the real provider.

`device="cuda"` where CUDA cannot run is an error naming what is missing, never a
silent fallback to the CPU; `device="auto"` takes CUDA (and TensorRT) when they work."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import onnxruntime as ort

from facedubd.errors import DeviceUnavailable, InvalidRequest

Device = Literal["auto", "cpu", "cuda"]
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
GPU_PROVIDERS = (TENSORRT, CUDA)


def available_providers() -> list[str]:
    return list(ort.get_available_providers())


def check_device(device: str) -> None:
    if device not in DEVICES:
        raise InvalidRequest(f"device must be one of {', '.join(DEVICES)}, got {device!r}")


def provider_chain(device: str, available: Sequence[str]) -> list[str]:
    """The providers to ask onnxruntime for, best first (pure: tested without a GPU)."""
    check_device(device)
    if device == "cpu":
        return [CPU]
    gpu = [p for p in GPU_PROVIDERS if p in available]
    if device == "cuda" and CUDA not in available:
        raise DeviceUnavailable(
            f"device cuda was requested but this onnxruntime {ort.__version__} has no "
            f"{CUDA} (it offers: {', '.join(available) or 'none'}); install the `gpu` "
            "extra (onnxruntime-gpu) and the CUDA runtime"
        )
    return [*gpu, CPU]


def session_options(threads: int, optimize: bool = True) -> ort.SessionOptions:
    if threads < 1:
        raise InvalidRequest(f"threads must be at least 1, got {threads}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # A graph onnxruntime optimised already (facedubd.models.tune) is opened as it is.
    options.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if optimize
        else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    )
    # With threads > 1 the pool's threads would otherwise busy-wait between runs, taking
    # cores that ffmpeg and the other pipeline threads need (threads == 1 has no pool).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    # onnxruntime's own warnings (e.g. a provider that failed to load) would go to
    # stderr; the checks below turn what matters into errors instead.
    options.log_severity_level = 3
    return options


def _provider_options(name: str) -> dict[str, Any]:
    if name == TENSORRT:
        from facedubd.paths import cache_dir, ensure_private_dir

        engines = ensure_private_dir(cache_dir() / "tensorrt")
        return {"trt_engine_cache_enable": True, "trt_engine_cache_path": str(engines)}
    return {}


def create_session(
    path: Path | str | os.PathLike[str],
    device: str = "auto",
    threads: int = 1,
    *,
    reuse_optimized: bool = False,
) -> ort.InferenceSession:
    """An onnxruntime session for the model at `path`. `session.get_providers()[0]`
    (or `session_provider(session)`) is the provider that really runs it.

    `reuse_optimized` (for a tuned copy, `facedubd.models.tune.tuned_model_path`): on the
    CPU, open onnxruntime's optimised graph of it, saved in the cache the first time."""
    chain = provider_chain(device, available_providers())
    options = session_options(threads)
    if reuse_optimized and chain == [CPU]:
        from facedubd.models.tune import optimized_model_path

        loaded = session_options(threads, optimize=False)
        ready = optimized_model_path(Path(path), session_options(threads), loaded)
        if ready is not None:
            path, options = ready, loaded
    session = ort.InferenceSession(
        str(path),
        sess_options=options,
        providers=[(name, _provider_options(name)) for name in chain],
    )
    running = session.get_providers()[0]
    if device == "cuda" and running not in GPU_PROVIDERS:
        raise DeviceUnavailable(
            f"device cuda was requested but onnxruntime could not start {CUDA} "
            f"(it fell back to {running}): the CUDA or cuDNN libraries are missing or do "
            "not match this onnxruntime-gpu"
        )
    return session


def session_provider(session: ort.InferenceSession) -> str:
    """The execution provider that really runs `session`."""
    return str(session.get_providers()[0])
