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
from tests.cli.harness import Daemon, one_error_line, run_facedub, start_daemon, stop_daemon

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
        # /proc is there: its "No such file or directory" would mislead, so it is left out
        Path("/proc/x.mp4"): "-o /proc/x.mp4: cannot write in /proc",
        Path("/proc/new/x.mp4"): "-o /proc/new/x.mp4: cannot make folders in /proc",
        Path("/sys/x.mp4"): "-o /sys/x.mp4: cannot write in /sys (Permission denied)",
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
        "error: usage_error: without -o the video would go to ./ID.mp4, but cannot write in /proc"
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


def test_bad_numbers_are_one_plain_usage_line_and_nothing_is_sent(
    daemon: Daemon, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"not looked at")
    nowhere = {"FACEDUB_SOCKET": str(tmp_path / "none.sock")}  # a request would be exit 7
    cases = [
        (
            ["jobs", "create", str(photo), str(photo), "--duration", "abc"],
            "Invalid value for '--duration' / '-d': 'abc' is not a whole number of seconds "
            "(see `facedub jobs create -h`)",
        ),
    ]
    # int() takes full-width digits and underscores; the server refuses "２" as a duration
    for duration in ("2.5", "\uff12", "1_0"):
        cases.append(
            (
                ["jobs", "create", str(photo), str(photo), "-d", duration],
                f"Invalid value for '--duration' / '-d': {duration!r} is not a whole number of "
                "seconds (see `facedub jobs create -h`)",
            )
        )
    for limit in ("0", "51", "-1", "abc", "\uff15", "1_0"):
        cases.append(
            (
                ["jobs", "list", "-n", limit],
                f"Invalid value for '--limit' / '-n': '{limit}' is not a whole number from 1 "
                "to 50 (see `facedub jobs list -h`)",
            )
        )
    for args, sentence in cases:
        # no server to send to: refused before any request (a request would be exit 7),
        # which is all a run with the daemon could show too, at twice the time
        result = run_facedub(*args, daemon=daemon, env=nowhere)
        assert result.code == 2, (args, result.stderr)
        assert one_error_line(result, "usage_error") == f"error: usage_error: {sentence}"
    for limit in ("1", "50"):
        assert run_facedub("jobs", "list", "-n", limit, daemon=daemon).code == 0


def test_a_bad_facedub_retries_is_refused(daemon: Daemon) -> None:
    for raw in ("abc", "-1", "1.5", "3x"):
        result = run_facedub("usage", daemon=daemon, env={"FACEDUB_RETRIES": raw})
        assert result.code == 2, (raw, result.stderr)
        assert one_error_line(result, "usage_error") == (
            f"error: usage_error: FACEDUB_RETRIES must be a whole number, 0 or more, not {raw!r}"
        )
    for raw in ("0", "5", " 2 ", ""):
        result = run_facedub("--json", "usage", daemon=daemon, env={"FACEDUB_RETRIES": raw})
        assert result.code == 0, (raw, result.stderr)


def compact(line: str) -> str:
    return json.dumps(json.loads(line), ensure_ascii=False, separators=(",", ":"))


def test_every_json_output_is_compact_one_object_a_line(
    daemon: Daemon, done_job: str, sample: Sample, tmp_path: Path
) -> None:
    photo, video = sample("grace_hopper.jpg"), sample("single_face.mp4")
    waited = run_facedub(
        "jobs", "create", str(photo), str(video), "-d", "1", "--wait", "--json",
        "-o", str(tmp_path / "w.mp4"), daemon=daemon, timeout=300,
    )  # fmt: skip
    assert waited.code == 0, waited.stderr
    watched = run_facedub("jobs", "watch", done_job, "--json", daemon=daemon)
    assert watched.code == 0, watched.stderr
    outputs = {"create --wait": waited.stdout, "watch": watched.stdout}
    for name, args in {
        "get": ["jobs", "get", done_job],
        "list": ["jobs", "list"],
        "keys": ["keys", "list"],
        "usage": ["usage"],
        "config": ["config", "show"],
    }.items():
        result = run_facedub("--json", *args, daemon=daemon)
        assert result.code == 0, (name, result.stderr)
        outputs[name] = result.stdout
    for name, stdout in outputs.items():
        lines = stdout.splitlines()
        assert lines and stdout.endswith("\n"), name
        assert all(line == compact(line) for line in lines), (name, stdout)
    assert len(outputs["create --wait"].splitlines()) == 1
    assert json.loads(outputs["create --wait"])["status"] == "completed"
    assert [json.loads(line)["status"] for line in outputs["watch"].splitlines()] == ["completed"]
    # a stream event and the GET body are the same object, written the same way
    event, body = json.loads(outputs["watch"]), json.loads(outputs["get"])
    assert list(event) == list(body)
    assert event["id"] == body["id"] == done_job


def test_an_id_that_cannot_be_a_job_id_is_refused_without_a_request(
    daemon: Daemon, tmp_path: Path
) -> None:
    nowhere = {"FACEDUB_SOCKET": str(tmp_path / "none.sock")}  # a request would be exit 7
    cases = [("get", bad, nowhere) for bad in ("a/b", "..", "x y", "a?b", "%2e%2e", "", "a" * 65)]
    for command in ("get", "watch", "download", "cancel", "delete"):
        cases += [(command, "../../etc", {}), (command, "a/b", nowhere)]
    for command, bad, env in cases:
        result = run_facedub("jobs", command, bad, daemon=daemon, env=env)
        assert result.code == 2, (bad, command, result.stderr)
        assert one_error_line(result, "usage_error") == (
            f"error: usage_error: Invalid value for 'ID': {bad!r} cannot be a job id: "
            "ids are letters, digits, '-' and '_', like 0123456789ab "
            f"(see `facedub jobs {command} -h`)"
        )
    assert list(tmp_path.iterdir()) == []
    unknown = run_facedub("jobs", "get", "Some_other-Id9", daemon=daemon)  # asked, not known
    assert unknown.code == 4
    one_error_line(unknown, "not_found")


def test_a_cancelled_job_shows_its_credits_as_refunded(
    sample: Sample, tmp_path_factory: pytest.TempPathFactory
) -> None:
    idle = start_daemon(tmp_path_factory.mktemp("idle"), {"FACEDUBD_WORKERS": "0"})
    try:
        photo, video = str(sample("grace_hopper.jpg")), str(sample("single_face.mp4"))
        ids = []
        for _ in range(2):
            made = run_facedub("--json", "jobs", "create", photo, video, "-d", "2", daemon=idle)
            assert made.code == 0, made.stderr
            ids.append(json.loads(made.stdout)["job_id"])
        kept, cancelled = ids
        assert run_facedub("jobs", "cancel", cancelled, daemon=idle).code == 0
        shown = run_facedub("jobs", "get", cancelled, daemon=idle)
        assert shown.code == 0, shown.stderr
        fields = dict(line.split(":", 1) for line in shown.stdout.splitlines())
        assert fields["status"].strip() == "failed"
        assert fields["credits"].strip() == "1 (refunded)"
        queued = dict(
            line.split(":", 1)
            for line in run_facedub("jobs", "get", kept, daemon=idle).stdout.splitlines()
        )
        assert queued["credits"].strip() == "1"
        header, *rows = run_facedub("jobs", "list", daemon=idle).stdout.splitlines()
        assert header.split()[4] == "CREDITS"
        assert [row.split()[:5] for row in rows] == [
            [cancelled, "failed", "queued", "2s", "1"],
            [kept, "queued", "queued", "2s", "1"],
        ]
        assert rows[0].split()[5] == "(refunded)"
        assert rows[1].split()[5].endswith("s")  # the age: nothing was refunded
        body = json.loads(run_facedub("--json", "jobs", "get", cancelled, daemon=idle).stdout)
        assert (body["credits_charged"], body["error_code"]) == (1, "cancelled")  # as sent
        usage = json.loads(run_facedub("--json", "usage", daemon=idle).stdout)
        assert usage["credits_used"] == 1  # only the queued job's
    finally:
        stop_daemon(idle)


def test_refunded_is_said_only_when_the_job_object_says_so() -> None:
    from facedub_cli.commands.jobs import credits_text

    assert credits_text({"status": "failed", "error_code": "cancelled", "credits_charged": 4}) == (
        "4 (refunded)"
    )
    # a job object without facedubd's error_code (the hosted spec's fields) makes no claim
    assert credits_text({"status": "failed", "credits_charged": 4}) == "4"
    assert credits_text({"status": "completed", "error_code": None, "credits_charged": 4}) == "4"


def test_a_views_folder_that_is_a_file_is_refused_before_any_download(
    daemon: Daemon, done_job: str, tmp_path: Path
) -> None:
    (tmp_path / "v_views").write_text("a file")
    got = run_facedub(
        "jobs", "download", done_job, "-o", str(tmp_path / "v.mp4"), "--views", daemon=daemon
    )
    assert got.code == 2, got.stderr
    assert one_error_line(got, "usage_error") == (
        f"error: usage_error: --views: {tmp_path / 'v_views'} is a file, not a folder"
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["v_views"]  # no video either


def test_a_key_id_that_cannot_be_one_is_refused_without_a_request(
    daemon: Daemon, tmp_path: Path
) -> None:
    """`keys revoke ../jobs/ID` was sent as DELETE /api-keys/../jobs/ID, which a URL
    resolves to DELETE /jobs/ID (another endpoint)."""
    nowhere = {"FACEDUB_SOCKET": str(tmp_path / "none.sock")}  # a request would be exit 7
    for bad in ("../jobs/0123456789ab", "..", "a/b"):
        result = run_facedub("keys", "revoke", bad, daemon=daemon, env=nowhere)
        assert result.code == 2, (bad, result.stderr)
        assert one_error_line(result, "usage_error") == (
            f"error: usage_error: Invalid value for 'ID': {bad!r} cannot be a key id: "
            "ids are letters, digits, '-' and '_', like key_0123456789abcdef "
            "(see `facedub keys revoke -h`)"
        )


def test_the_sdk_sends_an_id_as_one_path_segment(daemon: Daemon) -> None:
    """FaceDubClient put ids into URLs as they came: `..` and `/` in one reached another
    endpoint (delete_job('../api-keys/ID') revoked the key). Each id is now one escaped
    path segment, so such an id is only an unknown one."""
    from facedub_cli.errors import FaceDubError

    with FaceDubClient(socket=daemon.socket) as client:
        key = client.create_key("kept")
        jobs_before = client.list_jobs()
        attempts = [
            lambda: client.get_job(".."),
            lambda: client.get_job("../api-keys"),
            lambda: client.delete_job(f"../api-keys/{key['id']}"),
            lambda: client.cancel_job(f"..%2Fapi-keys%2F{key['id']}"),
        ]
        if jobs_before:
            victim = jobs_before[0]["id"]
            attempts.append(lambda: client.revoke_key(f"../jobs/{victim}"))
        for attempt in attempts:
            with pytest.raises(FaceDubError) as caught:
                attempt()
            assert caught.value.code == "not_found", caught.value
        assert key["id"] in [k["id"] for k in client.list_keys()]  # not revoked
        assert [j["id"] for j in client.list_jobs()] == [j["id"] for j in jobs_before]
        with pytest.raises(ValueError):
            client.get_job("")
        client.revoke_key(key["id"])


def test_an_output_that_is_an_input_or_not_an_mp4_is_refused_before_any_upload(
    daemon: Daemon, sample: Sample, tmp_path: Path
) -> None:
    """`jobs create p.jpg v2.mp4 -o v2.mp4` wrote the output over the reference video (and
    `-o p.jpg` over the photo); `-o out.txt` was taken. Each is refused as `facedubd run`
    refuses it: the same path, a symlink or a hard link to an input, or not an MP4 name."""
    env = {"FACEDUB_API_KEY": daemon.create_user("clobber@example.com")}
    photo, video = tmp_path / "p.jpg", tmp_path / "v2.mp4"
    photo.write_bytes(sample("grace_hopper.jpg").read_bytes())
    video.write_bytes(sample("single_face.mp4").read_bytes())
    (tmp_path / "vlink.mp4").symlink_to(video)
    (tmp_path / "plink.mp4").symlink_to(photo)
    os.link(video, tmp_path / "vhard.mp4")
    before = {path.name: path.read_bytes() for path in (photo, video)}
    names_the = "names the {} itself: write the video to another file"
    cases = {
        "v2.mp4": names_the.format("video"),
        "./v2.mp4": names_the.format("video"),
        str(video): names_the.format("video"),
        "p.jpg": names_the.format("photo"),
        "vlink.mp4": names_the.format("video"),
        "plink.mp4": names_the.format("photo"),
        "vhard.mp4": names_the.format("video"),
        "out.txt": "must name an MP4 file (.mp4, .m4v or .mov): the video is H.264 in MP4",
        "out": "must name an MP4 file (.mp4, .m4v or .mov): the video is H.264 in MP4",
    }
    for output, sentence in cases.items():
        for wait in ([], ["--wait"]):
            made = run_facedub(
                "jobs", "create", "p.jpg", "v2.mp4", "--duration", "1", *wait, "-o", output,
                daemon=daemon, env=env, cwd=tmp_path,
            )  # fmt: skip
            assert made.code == 2, (output, wait, made.stderr)
            assert one_error_line(made, "usage_error") == (
                f"error: usage_error: -o {Path(output)} {sentence}"  # ./v2.mp4: v2.mp4
            )
    # the inputs named through a link, -o the file itself
    made = run_facedub(
        "jobs", "create", "plink.mp4", "vlink.mp4", "-d", "1", "-o", "v2.mp4",
        daemon=daemon, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert one_error_line(made, "usage_error") == (
        f"error: usage_error: -o v2.mp4 {names_the.format('video')}"
    )
    assert made.code == 2
    assert {path.name: path.read_bytes() for path in (photo, video)} == before
    nothing_charged(daemon, env)
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "p.jpg", "plink.mp4", "v2.mp4", "vhard.mp4", "vlink.mp4"
    ]  # fmt: skip


def test_download_takes_only_an_mp4_name_and_overwrites_an_unrelated_file(
    daemon: Daemon, done_job: str, tmp_path: Path
) -> None:
    nowhere = {"FACEDUB_SOCKET": str(tmp_path / "none.sock")}  # a request would be exit 7
    for name in ("out.txt", "out", "out.mp4.part"):
        got = run_facedub("jobs", "download", done_job, "-o", name, env=nowhere, cwd=tmp_path)
        assert got.code == 2, (name, got.stderr)
        assert one_error_line(got, "usage_error") == (
            f"error: usage_error: -o {name} must name an MP4 file (.mp4, .m4v or .mov): "
            "the video is H.264 in MP4"
        )
    assert list(tmp_path.iterdir()) == []
    old = tmp_path / "old.MOV"
    old.write_text("an earlier download")
    got = run_facedub("jobs", "download", done_job, "-o", str(old), daemon=daemon)
    assert got.code == 0, got.stderr
    assert got.stdout == f"{old}\n"
    assert old.read_bytes()[4:8] == b"ftyp"  # replaced by the video, as curl -o does
