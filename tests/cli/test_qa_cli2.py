"""Second QA pass over `facedub`, against a real facedubd on a real socket: where -o may
point, the modes of what the CLI writes, the wording of bad values, and the shape of
--json output."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from facedub_cli import FaceDubClient
from tests.cli.harness import Daemon, one_error_line, run_facedub

Sample = Callable[[str], Path]


@pytest.fixture(scope="module")
def done_job(daemon: Daemon, sample: Sample, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The id of one completed 1-second job on the module's daemon."""
    photo, video = sample("grace_hopper.jpg"), sample("single_face.mp4")
    out = tmp_path_factory.mktemp("done") / "done.mp4"
    made = run_facedub(
        "--json", "jobs", "create", str(photo), str(video), "-d", "1", "-o", str(out),
        daemon=daemon, timeout=300,
    )  # fmt: skip
    assert made.code == 0, made.stderr
    return str(json.loads(made.stdout)["id"])


def nothing_charged(daemon: Daemon, env: dict[str, str]) -> None:
    listed = run_facedub("--json", "jobs", "list", daemon=daemon, env=env)
    assert (listed.code, listed.stdout) == (0, "[]\n")
    usage = json.loads(run_facedub("--json", "usage", daemon=daemon, env=env).stdout)
    assert usage["credits_used"] == 0


def test_an_output_path_that_cannot_be_written_is_refused_before_any_upload(
    daemon: Daemon, sample: Sample, tmp_path: Path
) -> None:
    photo, video = str(sample("grace_hopper.jpg")), str(sample("single_face.mp4"))
    env = {"FACEDUB_API_KEY": daemon.create_user("unwritable@example.com")}
    afile = tmp_path / "afile"
    afile.write_text("a file, not a folder")
    os.mkfifo(tmp_path / "fifo")
    cases = {
        afile / "x.mp4": f"-o {afile / 'x.mp4'}: {afile} is a file, not a folder",
        afile / "a" / "b.mp4": f"-o {afile / 'a' / 'b.mp4'}: {afile} is a file, not a folder",
        Path("/proc/x.mp4"): "-o /proc/x.mp4: cannot write in /proc (No such file or directory)",
        Path("/proc/new/x.mp4"): (
            "-o /proc/new/x.mp4: cannot make folders in /proc (No such file or directory)"
        ),
        tmp_path / "fifo": f"-o {tmp_path / 'fifo'} exists and is not a regular file",
    }
    for output, sentence in cases.items():
        made = run_facedub(
            "jobs", "create", photo, video, "-d", "1", "-o", str(output), daemon=daemon, env=env
        )
        assert made.code == 2, (output, made.stderr)
        assert one_error_line(made, "usage_error") == f"error: usage_error: {sentence}"
        got = run_facedub("jobs", "download", "0123456789ab", "-o", str(output), daemon=daemon)
        assert got.code == 2, (output, got.stderr)
        assert one_error_line(got, "usage_error") == f"error: usage_error: {sentence}"
    # no -o: the video would go to the current folder, which must take it
    waited = run_facedub(
        "jobs", "create", photo, video, "-d", "1", "--wait", daemon=daemon, env=env,
        cwd=Path("/proc"),
    )  # fmt: skip
    assert waited.code == 2, waited.stderr
    assert one_error_line(waited, "usage_error") == (
        "error: usage_error: without -o the video would go to ./ID.mp4, but cannot write in "
        "/proc (No such file or directory)"
    )
    nothing_charged(daemon, env)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["afile", "fifo"]  # no probes


def test_a_failed_write_names_the_path_given_not_the_part_file(
    daemon: Daemon, done_job: str, tmp_path: Path
) -> None:
    with FaceDubClient(socket=daemon.socket) as client:
        url = str(client.get_job(done_job)["output_url"])
        with pytest.raises(FileNotFoundError) as caught:
            client.download(url, "/proc/x.mp4")
        assert caught.value.filename == "/proc/x.mp4"
        target = tmp_path / "ok.mp4"
        assert client.download(url, target) == target
    assert target.stat().st_size > 0
    assert [path.name for path in tmp_path.iterdir()] == ["ok.mp4"]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_folders_made_for_outputs_are_private(
    daemon: Daemon, done_job: str, tmp_path: Path
) -> None:
    os.chmod(tmp_path, 0o755)  # a folder that was there is left as it is
    target = tmp_path / "dl" / "deeper" / "x.mp4"
    got = run_facedub("jobs", "download", done_job, "-o", str(target), "--views", daemon=daemon)
    assert got.code == 0, got.stderr
    views = tmp_path / "dl" / "deeper" / "x_views"
    assert got.stdout.splitlines()[0] == str(target)
    assert (views / "front.png").stat().st_size > 0
    made = [tmp_path / "dl", tmp_path / "dl" / "deeper", views]
    assert [oct(mode(folder)) for folder in made] == ["0o700"] * 3
    files = [target, *views.iterdir()]
    assert len(files) >= 5
    assert {oct(mode(path)) for path in files} == {"0o600"}
    assert mode(tmp_path) == 0o755


def test_the_config_file_is_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"XDG_CONFIG_HOME": str(home)}
    done = run_facedub("--profile", "lan", "config", "set", "api_url", "http://h:1", env=env)
    assert done.code == 0, done.stderr
    path = home / "facedub" / "config.toml"
    assert (mode(path.parent), mode(path)) == (0o700, 0o600)
    os.chmod(path, 0o644)  # as an earlier version wrote it
    assert run_facedub("config", "use", "lan", env=env).code == 0
    assert mode(path) == 0o600
    assert 'profile = "lan"' in path.read_text()
