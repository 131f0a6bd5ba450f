"""One job through the real pipeline on real input, watched over SSE, downloaded, checked."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from facedubd.pipeline.types import STAGES
from tests.harness import Daemon, make_daemon

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    settings = {"workers": 1, "output_url_ttl_s": 4, "sse_keepalive_s": 1}
    started = make_daemon(tmp_path_factory.mktemp("real"), settings)
    started.start()
    started.wait_models()
    yield started
    assert started.stop() == 0


def submit(daemon: Daemon, key: str, sample: Callable[[str], Path]) -> str:
    files = {
        "character_photo": ("hopper.jpg", sample("grace_hopper.jpg").read_bytes()),
        "reference_video": ("ref.mp4", sample("single_face.mp4").read_bytes()),
    }
    with daemon.client(key) as client:
        reply = client.post("/jobs", files=files, data={"duration": "2"})
    assert reply.status_code == 200, reply.text
    job_id: str = reply.json()["job_id"]
    return job_id


def watch(daemon: Daemon, key: str, job_id: str) -> tuple[list[dict[str, Any]], list[str], int]:
    with daemon.client(key) as client:
        token = client.post("/auth/token", json={"job_id": job_id}).json()["token"]
    events: list[dict[str, Any]] = []
    ids: list[str] = []
    comments = 0
    url = f"{daemon.url}/jobs/{job_id}/stream"
    with httpx.stream("GET", url, params={"token": token}, timeout=600) as stream:
        for line in stream.iter_lines():
            if line.startswith("id:"):
                ids.append(line[3:].strip())
            elif line.startswith("data:"):
                events.append(json.loads(line[5:]))
            elif line.startswith(":"):
                comments += 1
    return events, ids, comments


def ffprobe(data: bytes, tmp: Path) -> dict[str, Any]:
    path = tmp / "out.mp4"
    path.write_bytes(data)
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    info: dict[str, Any] = json.loads(done.stdout)
    return info


def test_real_job_completes_over_sse_and_downloads(
    daemon: Daemon, sample: Callable[[str], Path], tmp_path: Path
) -> None:
    _, key = daemon.create_user("real@example.com")
    job_id = submit(daemon, key, sample)
    events, ids, keepalives = watch(daemon, key, job_id)
    assert events[-1]["status"] == "completed", events[-1]
    assert keepalives >= 1  # sse_keepalive_s is 1 here; the job takes several seconds
    assert [int(i) for i in ids] == sorted(int(i) for i in ids)
    stages = [e["stage"] for e in events]
    assert stages == sorted(stages, key=STAGES.index)
    assert {"preparing", "generating_video", "done"} <= set(stages)
    # stage `done` is the completed job's: never shown while it is still processing
    assert [e["status"] for e in events if e["stage"] == "done"] == ["completed"]
    progress = [e["progress"] for e in events if e["stage"] == "generating_video"]
    assert progress == sorted(progress)
    with daemon.client(key) as client:
        job = client.get(f"/jobs/{job_id}").json()
        usage = client.get("/usage").json()
    assert (job["status"], job["stage"], job["progress"], job["error"]) == (
        "completed",
        "done",
        1.0,
        None,
    )
    assert usage["credits_used"] == 1
    assert {"preview", "front"} <= set(job["artifacts"])
    with httpx.Client(timeout=60) as anonymous:
        video = anonymous.get(job["output_url"])
        assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
        info = ffprobe(video.content, tmp_path)
        kinds = {s["codec_type"] for s in info["streams"]}
        assert "video" in kinds and 1.5 <= float(info["format"]["duration"]) <= 2.6
        part = anonymous.get(job["output_url"], headers={"Range": "bytes=0-99"})
        assert part.status_code == 206 and part.content == video.content[:100]
        # players and download tools ask HEAD first: the size and type, no body
        head = anonymous.head(job["output_url"])
        assert (head.status_code, head.headers["content-type"]) == (200, "video/mp4")
        assert int(head.headers["content-length"]) == len(video.content) and head.content == b""
        assert (
            anonymous.head(job["output_url"].replace("signature=", "signature=A")).status_code
            == 403
        )
        preview = anonymous.get(job["artifacts"]["preview"])
        assert preview.status_code == 200 and preview.content[:3] == b"\xff\xd8\xff"
        tampered = job["output_url"].replace("signature=", "signature=A")
        assert anonymous.get(tampered).status_code == 403
        job_dir = daemon.data_dir / "jobs" / job_id
        assert not (job_dir / "inputs").exists()
        assert (job_dir / "out" / "output.mp4").stat().st_mode & 0o777 == 0o600
        # Read over the Unix socket, the links point at the TCP port (reachable by any
        # client), not at the socket request's placeholder host.
        with daemon.socket_client(key) as over_socket:
            local = over_socket.get(f"/jobs/{job_id}").json()
        assert local["output_url"].startswith(daemon.url + "/files/"), local["output_url"]
        assert anonymous.get(local["output_url"]).status_code == 200
        time.sleep(5)
        assert anonymous.get(job["output_url"]).status_code == 410
        with daemon.client(key) as client:
            fresh = client.get(f"/jobs/{job_id}").json()["output_url"]
            assert fresh != job["output_url"]
            assert anonymous.get(fresh).status_code == 200
            assert client.delete(f"/jobs/{job_id}").status_code == 204
        assert anonymous.get(fresh).status_code == 410


def test_views_and_preview_are_shown_while_the_video_is_made(
    daemon: Daemon, sample: Callable[[str], Path]
) -> None:
    """DESIGN: `artifacts` are the views and preview "once made": a client sees the
    character's views while the video is still being generated, not only at the end."""
    _, key = daemon.create_user("early@example.com")
    job_id = submit(daemon, key, sample)
    seen: dict[str, set[str]] = {}
    with daemon.client(key) as client:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            job = client.get(f"/jobs/{job_id}").json()
            if job["status"] != "processing":
                break
            seen.setdefault(job["stage"], set()).update(job["artifacts"])
            time.sleep(0.05)
        assert job["status"] == "completed", job
        early = next(iter(job["artifacts"].values()))
    # Before the views are drawn there are none; while the video is made, all of them.
    assert not seen.get("preparing")
    assert seen["generating_video"] == {
        "preview", "front", "three_quarter_left", "three_quarter_right", "close_up"
    }  # fmt: skip
    with httpx.Client(timeout=60) as anonymous:
        assert anonymous.get(early).status_code == 200
