"""Pure client logic: multipart bodies, SSE parsing, option hoisting, config resolution."""

from __future__ import annotations

import email.message
import email.parser
import io
import itertools
from pathlib import Path

import pytest

from facedub_cli.client import retry_after_seconds
from facedub_cli.commands.jobs import artifact_path, artifact_urls
from facedub_cli.config import dump_config, load_config, resolve_target, save_config
from facedub_cli.errors import FaceDubError
from facedub_cli.main import hoist_global_options
from facedub_cli.multipart import FilePart, MultipartBody
from facedub_cli.sse import parse_events
from facedub_cli.ui import age, bar


def test_multipart_body_length_and_parts(tmp_path: Path) -> None:
    photo = tmp_path / "face.jpg"
    photo.write_bytes(b"\xff\xd8" + bytes(range(256)) * 3000)
    video = tmp_path / "ref.mp4"
    video.write_bytes(b"\x00" * 600_000)
    body = MultipartBody(
        {"duration": "5"}, [FilePart("character_photo", photo), FilePart("reference_video", video)]
    )
    seen: list[tuple[int, int]] = []
    data = b"".join(body.chunks(lambda done, total: seen.append((done, total))))
    assert len(data) == len(body)
    assert seen[-1] == (len(body), len(body))
    assert all(a[0] < b[0] for a, b in itertools.pairwise(seen))
    message = email.parser.BytesParser().parsebytes(
        f"Content-Type: {body.content_type}\r\n\r\n".encode() + data
    )
    parts = {part.get_param("name", header="content-disposition"): part for part in message.walk()}
    assert parts["duration"].get_payload() == "5"
    photo_part = parts["character_photo"]
    assert isinstance(photo_part, email.message.Message)
    assert photo_part.get_content_type() == "image/jpeg"
    assert photo_part.get_payload(decode=True) == photo.read_bytes()
    assert parts["reference_video"].get_payload(decode=True) == video.read_bytes()


def test_sse_events_with_keepalives_and_multiline_data() -> None:
    stream = io.StringIO(
        ': keep-alive\n\nevent: job\nid: 1\ndata: {"a": 1}\n\n'
        "event: job\nid: 2\ndata: line1\ndata: line2\n\nevent: job\ndata: tail\n"
    )
    events = list(parse_events(stream))
    assert [(e.event, e.id, e.data) for e in events] == [
        ("job", "1", '{"a": 1}'),
        ("job", "2", "line1\nline2"),
        ("job", "2", "tail"),
    ]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["jobs", "list", "--json"], ["--json", "jobs", "list"]),
        (["--json", "usage"], ["--json", "usage"]),
        (
            ["jobs", "get", "x", "--socket", "/s", "-q"],
            ["--socket", "/s", "-q", "jobs", "get", "x"],
        ),
        (["jobs", "get", "--profile=hosted", "x"], ["--profile=hosted", "jobs", "get", "x"]),
        (["keys", "create", "--", "--json"], ["keys", "create", "--", "--json"]),
    ],
)
def test_global_options_are_hoisted(argv: list[str], expected: list[str]) -> None:
    assert hoist_global_options(argv) == expected


def test_target_precedence_flag_env_file_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    local = resolve_target(config={})
    assert (local.profile, local.socket) == ("local", data_dir / "run" / "facedubd.sock")
    config = {"profile": "hosted", "profiles": {"hosted": {"api_url": "https://file.example"}}}
    assert resolve_target(config=config).api_url == "https://file.example"
    monkeypatch.setenv("FACEDUB_API_URL", "http://env.example")
    env = resolve_target(config=config)
    assert (env.api_url, env.source) == ("http://env.example", "env")
    flag = resolve_target(config=config, socket_flag="/tmp/x.sock")
    assert (flag.socket, flag.api_url, flag.source) == (Path("/tmp/x.sock"), None, "flag")
    monkeypatch.setenv("FACEDUB_PROFILE", "local")
    monkeypatch.delenv("FACEDUB_API_URL")
    assert resolve_target(config=config).profile == "local"
    with pytest.raises(FaceDubError) as caught:
        resolve_target(config=config, profile_flag="nope")
    assert caught.value.exit_code == 2


def test_config_round_trip(tmp_path: Path) -> None:
    config = {"profile": "staging", "profiles": {"staging": {"api_url": 'http://a"b'}}}
    path = save_config(config, tmp_path / "c.toml")
    assert load_config(path) == config
    assert dump_config({}) == "\n"


def test_retry_after_forms() -> None:
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(None, default=2.0) == 2.0
    assert retry_after_seconds("Thu, 01 Jan 1970 00:01:40 GMT", now=90.0) == 10.0
    assert retry_after_seconds("soon", default=3.0) == 3.0


def test_artifacts_flatten_to_safe_paths(tmp_path: Path) -> None:
    artifacts = {
        "preview": "http://h/files/p.jpg?sig=1",
        "views": {"front": "http://h/files/f.png?sig=2", "../evil": "http://h/x.png"},
    }
    pairs = artifact_urls(artifacts)
    assert pairs[0] == ("preview", "http://h/files/p.jpg?sig=1")
    paths = [artifact_path(tmp_path, name, url) for name, url in pairs]
    assert paths == [
        tmp_path / "preview.jpg",
        tmp_path / "views" / "front.png",
        tmp_path / "views" / "evil.png",
    ]


def test_small_formatters() -> None:
    assert bar(0.5, width=10) == "[#####-----]"
    assert bar(3.0, width=4) == "[####]"
    assert age(1000, now=1042) == "42s"
    assert age(0, now=7300) == "2h"
    assert age(None) == "-"


def test_exit_codes_follow_the_design_table() -> None:
    assert FaceDubError("unauthorized", "x", 401).exit_code == 3
    assert FaceDubError("credits_exhausted", "x", 403).exit_code == 8
    assert FaceDubError("not_found", "x", 404).exit_code == 4
    assert FaceDubError("concurrency_limit", "x", 429).exit_code == 5
    assert FaceDubError("models_loading", "x", 503).exit_code == 1
    assert FaceDubError("storage_full", "x", 507).exit_code == 1
    assert FaceDubError("some_new_code", "x", 404).exit_code == 4
    assert FaceDubError("some_new_code", "x", 502).exit_code == 1
