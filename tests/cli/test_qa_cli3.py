"""Third QA pass on `facedub`, as a new user meets it: each test names what was wrong."""

from __future__ import annotations

import os
import pty
import time
from pathlib import Path

import pytest

from tests.cli.harness import FACEDUB, one_error_line, run_facedub


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


def _at_the_key_prompt(typed: bytes) -> tuple[bytes, bytes, int]:
    """Run `facedub auth login` on a terminal, type `typed` at its question; (the question,
    what followed, the exit status). Nothing is sent: the URL answers nobody."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes facedub, on the pty
        env = {**os.environ, "FACEDUB_API_URL": "http://127.0.0.1:9"}
        os.execve(str(FACEDUB), ["facedub", "auth", "login"], env)
    question = b""
    deadline = time.monotonic() + 30
    while not question.endswith(b": ") and time.monotonic() < deadline:
        question += os.read(fd, 1024)
    os.write(fd, typed)
    rest = b""
    while True:
        try:
            chunk = os.read(fd, 1024)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        rest += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return question, rest, os.waitstatus_to_exitcode(status)


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
