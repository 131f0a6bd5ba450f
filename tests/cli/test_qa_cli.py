"""Defects a new user met (QA pass), each against a real facedubd and the real `facedub`:
Ctrl-C while following a job, a refused or missing key over TCP, a bad `api_url`, and
the views folder's mode."""

from __future__ import annotations

import json
import os
import shlex
import signal
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.cli.harness import FACEDUB, ROOT, Daemon, one_error_line, run_facedub

Sample = Callable[[str], Path]


def cli_env(daemon: Daemon) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FACEDUB_SOCKET": str(daemon.socket)}
    env.pop("FACEDUB_DEBUG", None)
    return env


def read_until(process: subprocess.Popen[str], needle: str, timeout: float = 60) -> str:
    """Lines of the process's stderr until one contains `needle`."""
    assert process.stderr is not None
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen += line
        if needle in line:
            return seen
    raise AssertionError(f"no {needle!r} in stderr: {seen!r}")


def test_ctrl_c_during_wait_says_the_job_goes_on_and_how_to_save_it_to_o(
    daemon: Daemon, sample: Sample, tmp_path: Path
) -> None:
    """The hint named only `jobs watch`, which does not save the video where -o asked."""
    photo, video = sample("grace_hopper.jpg"), sample("single_face.mp4")
    command = [str(FACEDUB), "jobs", "create", str(photo), str(video), "-d", "2", "--wait"]
    process = subprocess.Popen(
        [*command, "-o", "ctrlc 2/x.mp4"],
        env=cli_env(daemon),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = read_until(process, "charged")
    job_id = first.split("job ", 1)[1].split(":", 1)[0]
    time.sleep(1.0)  # a person presses Ctrl-C while the job is followed
    process.send_signal(signal.SIGINT)
    stdout, rest = process.communicate(timeout=60)

    assert process.returncode == 130
    assert stdout == ""
    download = f"facedub jobs download {job_id} -o 'ctrlc 2/x.mp4'"
    assert rest.strip() == (
        f"stopped following job {job_id}; it goes on: `facedub jobs watch {job_id}` "
        f"until it completes, then `{download}`"
    )
    watched = run_facedub("--json", "jobs", "watch", job_id, daemon=daemon, timeout=300)
    assert watched.code == 0, watched.stderr
    assert '"status":"completed"' in watched.stdout.replace(" ", "")
    got = run_facedub(*shlex.split(download)[1:], daemon=daemon, cwd=tmp_path)  # as hinted
    assert (got.code, got.stdout) == (0, "ctrlc 2/x.mp4\n"), got.stderr
    assert (tmp_path / "ctrlc 2" / "x.mp4").read_bytes()[4:8] == b"ftyp"


def test_no_key_over_tcp_says_how_to_log_in(daemon: Daemon) -> None:
    env = {"FACEDUB_API_URL": daemon.url}
    result = run_facedub("jobs", "list", env=env)
    assert result.code == 3
    line = one_error_line(result, "unauthorized")
    assert line.endswith(
        "(no API key for profile local: run `facedub --profile local auth login` "
        "or set FACEDUB_API_KEY)"
    )


def test_a_revoked_stored_key_says_to_log_in_again(daemon: Daemon) -> None:
    key = daemon.create_user("revoked@example.com")
    env = {"FACEDUB_PROFILE": "lan"}
    made = run_facedub("--profile", "lan", "config", "set", "api_url", daemon.url, env=env)
    assert made.code == 0, made.stderr
    login = run_facedub("auth", "login", "--with-key-stdin", stdin=key + "\n", env=env)
    assert login.code == 0, login.stderr
    listed = run_facedub("--json", "keys", "list", env=env)
    assert listed.code == 0, listed.stderr
    key_id = json.loads(listed.stdout)[0]["id"]
    assert run_facedub("keys", "revoke", key_id, env=env).code == 0

    result = run_facedub("usage", env=env)
    assert result.code == 3
    line = one_error_line(result, "unauthorized")
    assert line.endswith(
        "(the key stored for profile lan was refused: run `facedub --profile lan auth login`)"
    )


def test_config_set_refuses_an_api_url_that_is_not_http() -> None:
    for bad in ("not a url", "ftp://example.com", "http://"):
        result = run_facedub("--profile", "x", "config", "set", "api_url", bad)
        assert result.code == 2, (bad, result.stderr)
        one_error_line(result, "usage_error")
    shown = run_facedub("config", "show")
    assert "x:" not in shown.stdout
    good = run_facedub("--profile", "x", "config", "set", "api_url", "https://h.example:8443")
    assert good.code == 0, good.stderr


def test_downloaded_views_folder_is_private(daemon: Daemon, sample: Sample, tmp_path: Path) -> None:
    photo, video = sample("grace_hopper.jpg"), sample("single_face.mp4")
    made = run_facedub(
        "--json", "jobs", "create", str(photo), str(video), "-d", "1", "--wait",
        "-o", str(tmp_path / "first.mp4"), daemon=daemon, timeout=300,
    )  # fmt: skip
    assert made.code == 0, made.stderr
    job_id = json.loads(made.stdout)["id"]
    got = run_facedub(
        "jobs", "download", job_id, "--views", "-o", str(tmp_path / "v.mp4"), daemon=daemon
    )
    assert got.code == 0, got.stderr
    folder = tmp_path / "v_views"
    assert (folder / "front.png").stat().st_size > 0
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_a_bad_command_line_is_one_error_line(tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"not looked at")
    cases = [
        (["jobs", "create", str(photo), str(photo), "-d", "ten"], "'--duration' / '-d'"),
        (["jobs", "create", "missing.jpg", str(photo)], "file 'missing.jpg' does not exist"),
        (["jobs", "create", str(photo)], "Missing argument 'VIDEO'"),
        (["--bogus", "jobs", "list"], "No such option: --bogus"),
        (["jobs", "bogus"], "No such command 'bogus'"),
    ]
    for args, detail in cases:
        result = run_facedub(*args)
        assert result.code == 2, (args, result.stderr)
        line = one_error_line(result, "usage_error")
        assert detail in line and line.endswith(" -h`)"), line
    bare = run_facedub("jobs")
    assert bare.code == 2
    assert "Commands:" in bare.stdout + bare.stderr


def test_output_naming_a_folder_is_refused_before_any_upload(
    daemon: Daemon, sample: Sample, tmp_path: Path
) -> None:
    photo, video = sample("grace_hopper.jpg"), sample("single_face.mp4")
    env = {"FACEDUB_API_KEY": daemon.create_user("folder@example.com")}
    made = run_facedub(
        "jobs", "create", str(photo), str(video), "-d", "1", "-o", str(tmp_path),
        daemon=daemon, env=env,
    )  # fmt: skip
    assert made.code == 2
    line = one_error_line(made, "usage_error")
    assert line == f"error: usage_error: -o {tmp_path} is a folder: name the video file to write"
    listed = run_facedub("--json", "jobs", "list", daemon=daemon, env=env)
    assert (listed.code, listed.stdout) == (0, "[]\n")

    got = run_facedub("jobs", "download", "0123456789ab", "-o", str(tmp_path), daemon=daemon)
    assert got.code == 2
    one_error_line(got, "usage_error")
    assert list(tmp_path.iterdir()) == []


def test_login_with_a_wrong_key_says_it_was_refused(daemon: Daemon) -> None:
    env = {"FACEDUB_API_URL": daemon.url}
    result = run_facedub("auth", "login", "--with-key-stdin", stdin="fdb_wrong\n", env=env)
    assert result.code == 3
    line = one_error_line(result, "unauthorized")
    assert line.endswith(f"({daemon.url} refused that key; nothing was stored)"), line
    status = run_facedub("auth", "status", env=env)
    assert status.code == 3
    assert "no API key for profile local" in status.stderr


def test_version_is_printed_without_a_server() -> None:
    from facedub_cli import __version__

    for args in (["--version"], ["--version", "jobs", "list"]):
        result = run_facedub(*args, env={"FACEDUB_SOCKET": "/nonexistent/facedubd.sock"})
        assert result.code == 0, result.stderr
        assert result.stdout == f"facedub {__version__}\n"
    assert "--version" in run_facedub("--help").stdout


def test_keys_create_with_an_empty_name_is_refused(daemon: Daemon) -> None:
    before = run_facedub("--json", "keys", "list", daemon=daemon)
    result = run_facedub("keys", "create", "", daemon=daemon)
    assert result.code == 8, result.stderr
    assert "name" in one_error_line(result, "invalid_request")
    after = run_facedub("--json", "keys", "list", daemon=daemon)
    assert json.loads(after.stdout) == json.loads(before.stdout)  # no key was made


def test_a_key_pasted_with_spaces_works_and_a_broken_one_is_never_echoed(
    daemon: Daemon,
) -> None:
    pasted = {"FACEDUB_API_URL": daemon.url, "FACEDUB_API_KEY": f" {daemon.api_key}\n"}
    result = run_facedub("--json", "usage", env=pasted)
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["plan"] == "agency"
    broken = f"{daemon.api_key[:20]}\x01{daemon.api_key[20:]}"
    result = run_facedub("usage", env={**pasted, "FACEDUB_API_KEY": broken})
    assert result.code == 3, result.stderr
    one_error_line(result, "unauthorized")
    assert daemon.api_key[4:20] not in result.stderr  # a secret never goes to a log


def test_a_socket_path_with_tilde_or_relative_reaches_the_daemon(
    daemon: Daemon, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    (home / "run").mkdir(parents=True)
    (home / "run" / "d.sock").symlink_to(daemon.socket)
    env = {"HOME": str(home), "FACEDUB_SOCKET": ""}
    # written by hand in the config file, or quoted in the environment: ~ is the home
    tilde = run_facedub("--json", "usage", env={**env, "FACEDUB_SOCKET": "~/run/d.sock"})
    assert tilde.code == 0, tilde.stderr
    # set from one folder, used from another: the path is the one meant when it was set
    done = run_facedub("--profile", "mine", "config", "set", "socket", "d.sock", cwd=home / "run")
    assert done.code == 0, done.stderr
    used = run_facedub("--profile", "mine", "--json", "usage", env=env, cwd=tmp_path)
    assert used.code == 0, used.stderr
    assert json.loads(used.stdout)["plan"] == "agency"
