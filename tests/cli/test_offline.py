"""Commands that need no server, and the errors when none answers (exit 7, exit 2)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import NoReturn

import pytest

from facedub_cli.client import FaceDubClient
from facedub_cli.errors import FaceDubError
from tests.cli.harness import free_port, one_error_line, run_facedub


def test_no_socket_is_exit_7_naming_the_socket(isolated_dirs: Path) -> None:
    result = run_facedub("jobs", "list")
    line = one_error_line(result, "connection_failed")
    assert result.code == 7
    assert str(isolated_dirs / "run" / "facedubd.sock") in line


def test_refused_tcp_is_exit_7_naming_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run_facedub("--json", "usage", "--api-url", url)
    assert result.code == 7
    assert url in one_error_line(result, "connection_failed")


def test_usage_errors_are_exit_2() -> None:
    result = run_facedub("jobs", "create", "missing.jpg")
    assert result.code == 2
    assert "Traceback" not in result.stderr
    assert run_facedub("--profile", "nope", "usage").code == 2


def test_config_profiles_precedence_and_json() -> None:
    shown = run_facedub("config", "show", "--json")
    assert shown.code == 0
    body = json.loads(shown.stdout)
    assert (body["profile"], body["source"]) == ("local", "profile local")
    assert body["socket"] == str(Path(os.environ["FACEDUBD_DATA_DIR"]) / "run" / "facedubd.sock")
    assert body["profiles"]["hosted"] == {"api_url": "https://api.facedub.io"}

    assert run_facedub("--profile", "staging", "config", "set", "api_url", "http://s:1").code == 0
    assert run_facedub("config", "use", "staging").code == 0
    path = run_facedub("config", "path").stdout.strip()
    assert 'profile = "staging"' in Path(path).read_text()
    body = json.loads(run_facedub("--json", "config", "show").stdout)
    assert (body["profile"], body["api_url"]) == ("staging", "http://s:1")

    env = {"FACEDUB_API_URL": "http://env:2"}
    assert json.loads(run_facedub("config", "show", "--json", env=env).stdout)["api_url"] == (
        "http://env:2"
    )
    flagged = run_facedub("config", "show", "--json", "--socket", "/tmp/f.sock", env=env)
    body = json.loads(flagged.stdout)
    assert (body["socket"], body["api_url"], body["source"]) == ("/tmp/f.sock", None, "flag")

    human = run_facedub("config", "show")
    assert "* staging: api_url=http://s:1" in human.stdout
    assert run_facedub("config", "set", "colour", "red").code == 2


def test_debug_shows_a_traceback_without_locals(isolated_dirs: Path) -> None:
    plain = run_facedub("jobs", "get", "abc")
    debug = run_facedub("jobs", "get", "abc", env={"FACEDUB_DEBUG": "1"})
    assert "Traceback" not in plain.stderr
    assert plain.code == debug.code == 7
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1] == plain.stderr.strip()
    assert "self = " not in debug.stderr and "locals" not in debug.stderr


def test_a_host_that_does_not_resolve_is_said_in_words(monkeypatch: pytest.MonkeyPatch) -> None:
    """The resolver's errno text ("[Errno -2] Name or service not known") was printed as
    the reason; the line now says what it means. The lookup itself fails as a resolver
    does when it knows no such name (the name is under .invalid, which never resolves)."""

    def no_such_name(*args: object, **kwargs: object) -> NoReturn:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    url = "http://nosuchhost.invalid"
    with (
        FaceDubClient(url, api_key="fdb_x", max_retries=0) as client,
        pytest.raises(FaceDubError) as caught,
    ):
        client.usage()
    assert (caught.value.code, caught.value.message) == (
        "connection_failed",
        f"cannot connect to {url}: the host name could not be looked up (check the URL and "
        "the network)",
    )
