"""Shared fixtures. Every test gets its own data dir and config dir; the model and
test-media cache is shared (it is large and read-only once fetched)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

pytest_plugins = ("tests.faultlog",)


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("FACEDUBD_DATA_DIR", str(data))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("FACEDUB_API_KEY", raising=False)
    monkeypatch.delenv("FACEDUB_PROFILE", raising=False)
    monkeypatch.delenv("FACEDUB_API_URL", raising=False)
    monkeypatch.delenv("FACEDUB_SOCKET", raising=False)
    return data


@pytest.fixture(scope="session")
def model_paths() -> dict[str, Path]:
    """Every manifest model as ONNX in the shared cache (fetched and converted if missing)."""
    from facedubd.models import ensure_models

    return ensure_models()


@pytest.fixture(scope="session")
def sample() -> Callable[[str], Path]:
    """sample(name) -> the path of a real test medium in the shared cache (fetched if missing)."""
    from facedubd.samples import sample_path

    return sample_path
