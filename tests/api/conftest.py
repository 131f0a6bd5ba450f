"""One real daemon per module: workers 0 (jobs stay queued), limits set per module."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.harness import Daemon, make_daemon


@pytest.fixture(scope="module")
def api_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    settings = {
        "workers": 0,
        "max_photo_mb": 1,
        "rate_post_jobs": 1000,
        "rate_get_jobs": 1000,
        "rate_other": 1000,
    }
    daemon = make_daemon(tmp_path_factory.mktemp("api"), settings)
    daemon.start()
    daemon.wait_models()
    yield daemon
    assert daemon.stop() == 0


@pytest.fixture(scope="module")
def media(sample: Callable[[str], Path]) -> dict[str, bytes]:
    names = [
        "grace_hopper.jpg",
        "single_face.mp4",
        "no_face.mp4",
        "free-mountain-vector-01.jpg",
        "BWPictureHuman.jpg",
    ]
    return {name: sample(name).read_bytes() for name in names}
