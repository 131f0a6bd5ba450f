"""Provider choice for --device; a real CPU session reports the provider it runs on."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort
import pytest

from facedubd.errors import DeviceUnavailable, InvalidRequest
from facedubd.models.sessions import (
    CPU,
    CUDA,
    TENSORRT,
    create_session,
    provider_chain,
    session_provider,
)

ALL = [TENSORRT, CUDA, CPU]


def test_cpu_never_asks_for_a_gpu() -> None:
    assert provider_chain("cpu", ALL) == [CPU]


def test_auto_and_cuda_prefer_tensorrt_then_cuda() -> None:
    assert provider_chain("auto", ALL) == ALL
    assert provider_chain("cuda", [CUDA, CPU]) == [CUDA, CPU]
    assert provider_chain("auto", [CPU, "AzureExecutionProvider"]) == [CPU]


def test_cuda_without_the_provider_names_what_is_missing() -> None:
    with pytest.raises(DeviceUnavailable, match="no CUDAExecutionProvider") as info:
        provider_chain("cuda", [CPU])
    assert info.value.code == "device_unavailable" and "onnxruntime-gpu" in info.value.message


def test_unknown_device_is_an_invalid_request() -> None:
    with pytest.raises(InvalidRequest, match="device must be one of auto, cpu, cuda"):
        provider_chain("tpu", ALL)


def test_cpu_session_runs_with_the_requested_threads(model_paths: dict[str, Path]) -> None:
    session = create_session(model_paths["face_detection_short_range"], device="cpu", threads=2)
    assert session_provider(session) == CPU
    options = session.get_session_options()
    assert options.intra_op_num_threads == 2
    # its pool threads sleep between runs instead of spinning on cores ffmpeg needs
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_cuda_on_a_machine_without_it_is_an_error(model_paths: dict[str, Path]) -> None:
    if CUDA in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA; the error path needs a CPU-only build")
    with pytest.raises(DeviceUnavailable, match=CUDA):
        create_session(model_paths["face_landmark"], device="cuda")
