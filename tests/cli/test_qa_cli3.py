"""Third QA pass on `facedub`, as a new user meets it: each test names what was wrong."""

from __future__ import annotations

import contextlib
import fcntl
import http.server
import json
import os
import pty
import signal
import subprocess
import termios
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from facedub_cli.commands.jobs import charged_note
from facedub_cli.commands.usage import usage_lines
from tests.cli.harness import FACEDUB, Daemon, one_error_line, run_facedub


def _stored_nothing() -> bool:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "facedub"
    return not (config / "credentials.json").exists()


def test_login_without_a_terminal_says_to_pipe_the_key() -> None:
    """`facedub auth login < /dev/null` printed Python's GetPassWarning and `Aborted!`
    (exit 1); `gh auth login` asks for --with-token there."""
    done = run_facedub("auth", "login", "--api-url", "http://127.0.0.1:9", stdin="")
    assert done.code == 2
    line = one_error_line(done, "usage_error")
    assert "stdin is not a terminal" in line
    assert "`facedub auth login --with-key-stdin`" in line
    assert "Warning" not in done.stderr and "Aborted" not in done.stderr
    assert _stored_nothing()


def _controlling_terminal() -> None:
    """In the child: a session of its own whose terminal is its stdin (the pty), so
    getpass finds /dev/tty there, as on a user's terminal."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _at_the_key_prompt(typed: bytes) -> tuple[bytes, bytes, int]:
    """Run `facedub auth login` on a terminal, type `typed` at its question; (the question,
    what followed, the exit status). Nothing is sent: the URL answers nobody."""
    main, child_end = pty.openpty()
    process = subprocess.Popen(
        [str(FACEDUB), "auth", "login"],
        stdin=child_end,
        stdout=child_end,
        stderr=child_end,
        env={**os.environ, "FACEDUB_API_URL": "http://127.0.0.1:9"},
        preexec_fn=_controlling_terminal,
    )
    os.close(child_end)
    question = b""
    deadline = time.monotonic() + 30
    while not question.endswith(b": ") and time.monotonic() < deadline:
        question += os.read(main, 1024)
    os.write(main, typed)
    rest = b""
    while True:
        try:
            chunk = os.read(main, 1024)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        rest += chunk
    code = process.wait(30)
    os.close(main)
    return question, rest, code


@pytest.mark.parametrize(
    ("typed", "line", "status"),
    [
        (b"\x03", b"error: cancelled: no key was stored", 130),  # Ctrl-C, as elsewhere
        (b"\x04", b"error: usage_error: no API key given", 2),  # Ctrl-D, as an empty key
    ],
    ids=["ctrl-c", "ctrl-d"],
)
def test_key_question_stopped_is_one_error_line(typed: bytes, line: bytes, status: int) -> None:
    """Ctrl-C or Ctrl-D at the key question printed `Aborted!` and exited 1."""
    question, rest, code = _at_the_key_prompt(typed)
    assert question.endswith(b"API key (fdb_...): ")
    assert rest.strip().splitlines() == [line]
    assert code == status
    assert _stored_nothing()


def _send_json(handler: http.server.BaseHTTPRequestHandler, body: object) -> None:
    data = json.dumps(body).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class _SlowVideo(http.server.BaseHTTPRequestHandler):
    """A completed job whose video arrives slowly: 64 KiB of an announced 8 MiB, then
    nothing until the client goes (at most 30 s)."""

    def do_GET(self) -> None:
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        if self.path.startswith("/jobs/"):
            job = {
                "id": "0123456789ab",
                "status": "completed",
                "stage": "done",
                "output_url": f"{base}/files/0123456789ab/output.mp4?signature=x",
                "artifacts": {},
            }
            _send_json(self, job)
            return
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(8 << 20))
        self.end_headers()
        self.wfile.write(b"\0" * (64 << 10))
        self.wfile.flush()
        deadline = time.monotonic() + 30
        with contextlib.suppress(OSError):
            while time.monotonic() < deadline:
                time.sleep(0.1)
                self.wfile.write(b"\0")  # until the client is gone
                self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.parametrize(("stop", "status"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_killed_download_leaves_no_part_file(
    tmp_path: Path, stop: signal.Signals, status: int
) -> None:
    """`kill` (SIGTERM) or a closed terminal (SIGHUP) during `jobs download` left
    `out.mp4.part`, the first part of the video (Ctrl-C removed it)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowVideo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        **os.environ,
        "FACEDUB_API_URL": f"http://127.0.0.1:{server.server_address[1]}",
        "FACEDUB_API_KEY": "fdb_test",
    }
    env.pop("FACEDUB_DEBUG", None)
    part = tmp_path / "out.mp4.part"
    try:
        process = subprocess.Popen(
            [str(FACEDUB), "-q", "jobs", "download", "0123456789ab", "-o", "out.mp4"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while not (part.exists() and part.stat().st_size > 0) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert part.exists(), "the download never started"
        process.send_signal(stop)
        out, err = process.communicate(timeout=30)
    finally:
        server.shutdown()
        server.server_close()
    assert list(tmp_path.iterdir()) == []  # neither the video nor its .part
    assert process.returncode == status, err  # 128 + the signal, as the shell reports it
    assert "Traceback" not in err and out == ""


class _SweptJob(http.server.BaseHTTPRequestHandler):
    """A job as facedubd answers once its retention sweep deleted the files: completed,
    `output_url` null, no artifacts."""

    def do_GET(self) -> None:
        job = {
            "id": "0123456789ab",
            "status": "completed",
            "stage": "done",
            "output_url": None,
            "created_at": int(time.time()) - 8 * 86400,
            "error": None,
            "duration_seconds": 5,
            "credits_charged": 1,
            "progress": 1.0,
            "error_code": None,
            "artifacts": {},
        }
        _send_json(self, job)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_swept_video_is_not_called_not_ready(tmp_path: Path) -> None:
    """After the retention sweep, `jobs download` said `job_not_finished: job ... is
    completed: no video yet` (exit 8) and `jobs get` showed no output line at all."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SweptJob)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        "FACEDUB_API_URL": f"http://127.0.0.1:{server.server_address[1]}",
        "FACEDUB_API_KEY": "fdb_test",
    }
    try:
        download = run_facedub("jobs", "download", "0123456789ab", env=env, cwd=tmp_path)
        shown = run_facedub("jobs", "get", "0123456789ab", env=env)
    finally:
        server.shutdown()
        server.server_close()
    gone = "its video is no longer kept (deleted after the server's retention period)"
    assert download.code == 4  # not found: the job is there, its video is not
    line = one_error_line(download, "output_deleted")
    assert line == f"error: output_deleted: job 0123456789ab completed, but {gone}"
    assert list(tmp_path.iterdir()) == []
    assert shown.code == 0
    assert f"output:   none: {gone}" in shown.stdout.splitlines()


@pytest.mark.parametrize(
    ("remaining", "shown"),
    [
        (149, "149"),
        (0, "0"),
        (-1, "0 (1 credit past the limit, charged as overage)"),
        (-7, "0 (7 credits past the limit, charged as overage)"),
    ],
)
def test_usage_past_the_limit_says_overage(remaining: int, shown: str) -> None:
    """`facedub usage` past the limit (overage on) showed `remaining: -1`."""
    body = {"plan": "agency", "credits_used": 2, "credits_limit": 1, "bonus_credits": 0}
    lines = dict(usage_lines({**body, "credits_remaining": remaining}))
    assert lines["remaining"] == shown


@pytest.mark.parametrize(
    ("created", "said"),
    [
        ({"job_id": "a1", "credits_charged": 1, "is_overage": False}, "job a1: 1 credit charged"),
        (
            {"job_id": "b2", "credits_charged": 2, "is_overage": True},
            "job b2: 2 credits charged (overage: past this month's limit)",
        ),
    ],
)
def test_create_wait_says_when_the_charge_is_overage(created: dict[str, Any], said: str) -> None:
    """`jobs create --wait` said only `job ID: 2 credits charged` for an overage job (the
    API's is_overage was shown only without --wait)."""
    assert charged_note(created) == said


@pytest.mark.parametrize("what", ["folder", "file"])
def test_a_socket_path_that_is_no_socket_says_so(tmp_path: Path, what: str) -> None:
    """`--socket` naming a folder (the data dir's `run/`, say) or a file said `connection
    refused (is the server running?)`, which sends one looking for a stopped daemon."""
    path = tmp_path / "run"
    if what == "folder":
        path.mkdir()
    else:
        path.write_text("not a socket")
    done = run_facedub("--socket", str(path), "usage")
    assert done.code == 7
    assert one_error_line(done, "connection_failed") == (
        f"error: connection_failed: cannot connect to socket {path}: that is a {what}, not a "
        "socket (check --socket, FACEDUB_SOCKET or the profile)"
    )


def test_piped_tables_keep_each_row_on_one_line(daemon: Daemon) -> None:
    """`facedub keys list | grep ...` (or `jobs list`) met Rich's table folded at 80
    columns: a long key name over four lines, every line padded with spaces to 80."""
    name = "a rather long key name for the staging render farm in building seven, rack twelve"
    created = run_facedub("--json", "keys", "create", name, daemon=daemon)
    assert created.code == 0, created.stderr
    key_id = json.loads(created.stdout)["id"]
    listed = run_facedub("keys", "list", daemon=daemon, env={"COLUMNS": "80"})
    assert listed.code == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["ID", "NAME", "PREFIX", "CREATED", "LAST", "USED"]
    mine = [row for row in rows if row.startswith(key_id)]
    assert len(mine) == 1 and f"  {name}  " in mine[0]
    assert len(rows) == len(json.loads(run_facedub("--json", "keys", "list", daemon=daemon).stdout))
    assert all(line == line.rstrip() for line in listed.stdout.splitlines())
