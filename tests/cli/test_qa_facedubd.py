"""A defect a new user met in `facedubd` (QA pass): help texts that lost their defaults
to Rich markup."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.cli.harness import FACEDUBD, ROOT


def facedubd(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "250"}
    env.pop("FACEDUB_DEBUG", None)
    return subprocess.run(
        [str(FACEDUBD), *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_help_keeps_its_defaults_and_env_names() -> None:
    serve = facedubd("serve", "--help")
    assert serve.returncode == 0, serve.stderr
    for text in (
        "(default: <data dir>/run/facedubd.sock)",
        "(default: the request's host)",
        "(default: <data dir>/facedubd.toml)",
        "(env: FACEDUBD_DATA_DIR)",
    ):
        assert text in serve.stdout, text
    create = facedubd("users", "create", "--help")
    assert "(default: setting default_credits_limit)" in create.stdout
    assert " ." not in create.stdout


def serve_refused(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`facedubd serve ARGS` on a fresh data dir and a short socket path; it must not start."""
    sock = Path(tempfile.mkdtemp(prefix="fdqa-", dir="/tmp")) / "d.sock"
    done = facedubd(
        "serve", "--data-dir", str(tmp_path / "data"), "--socket", str(sock), *args, timeout=30
    )
    assert not sock.exists()  # nothing left listening or lying about
    sock.parent.rmdir()
    return done


def assert_one_error_line(
    done: subprocess.CompletedProcess[str], code: str, status: int = 2
) -> str:
    """One `error: CODE: ...` line on stderr and exit STATUS (2: usage or configuration)."""
    assert done.returncode == status, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {code}: "), done.stderr
    return lines[0]


def test_serve_port_out_of_range_is_one_line(tmp_path: Path) -> None:
    done = serve_refused(tmp_path, "--port", "99999")
    line = assert_one_error_line(done, "invalid_request")
    assert "99999" in line and "0-65535" in line


def test_serve_with_a_config_file_that_is_not_toml(tmp_path: Path) -> None:
    config = tmp_path / "facedubd.toml"
    config.write_text("workers = [[[\n")
    done = serve_refused(tmp_path, "--port", "0", "--config", str(config))
    line = assert_one_error_line(done, "invalid_request")
    assert str(config) in line and "not valid TOML" in line


@pytest.mark.parametrize(
    ("setting", "value", "words"),
    [
        ("FACEDUBD_WORKERS", "-1", "workers must be 0 or more"),
        ("FACEDUBD_WORKERS", "abc", "workers must be a whole number, got 'abc'"),
        ("FACEDUBD_RATE_WINDOW_S", "x", "rate_window_s must be a number, got 'x'"),
        ("FACEDUBD_DEVICE", "tpu", "device must be auto, cpu or cuda"),
        ("FACEDUBD_MAX_ACTIVE_JOBS", "abc", "max_active_jobs must be a whole number, got 'abc'"),
        # int(inf * 1e6) failed on every POST /jobs (500), nan likewise
        ("FACEDUBD_MAX_VIDEO_MB", "inf", "max_video_mb must be a finite number, got inf"),
        ("FACEDUBD_SHUTDOWN_GRACE_S", "nan", "shutdown_grace_s must be a finite number, got nan"),
    ],
)
def test_serve_refuses_a_bad_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str, value: str, words: str
) -> None:
    monkeypatch.setenv(setting, value)
    done = serve_refused(tmp_path, "--port", "0")
    assert words in assert_one_error_line(done, "invalid_request")


def test_version() -> None:
    from facedubd import __version__

    done = facedubd("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"facedubd {__version__}\n"
    assert "--version" in facedubd("--help").stdout


def test_serve_socket_path_too_long_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / ("d" * 120)  # AF_UNIX allows ~107 bytes: a deep data dir passes it
    folder.mkdir()
    sock = folder / "facedubd.sock"
    done = facedubd("serve", "--port", "0", "--socket", str(sock), timeout=30)
    line = assert_one_error_line(done, "invalid_request")
    assert "too long" in line and "--socket" in line
    assert not sock.exists()


@pytest.mark.parametrize("url", ["notaurl", "ftp://cdn.example.com", "https://"])
def test_serve_refuses_a_public_url_that_is_not_http(tmp_path: Path, url: str) -> None:
    """Every signed link would start with it: a bad one made every output_url useless."""
    done = serve_refused(tmp_path, "--port", "0", "--public-url", url)
    line = assert_one_error_line(done, "invalid_request")
    assert "--public-url" in line and url in line


@pytest.mark.parametrize(
    "args",
    [
        ("users", "create", "neg@example.com", "--credits-limit", "-5"),
        ("users", "create", "big@example.com", "--credits-limit", "99999999999999999999"),
        ("users", "grant", "owner@example.com", "99999999999999999999"),
    ],
)
def test_users_credits_out_of_range_are_one_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    data = ("--data-dir", str(tmp_path / "data"))
    facedubd("users", "create", "owner@example.com", *data)
    done = facedubd(*args, *data)
    line = assert_one_error_line(done, "invalid_request")
    assert "0 to 1000000000" in line or "1 to 1000000000" in line
    listed = facedubd("users", "list", "--json", *data)
    assert [u["email"] for u in json.loads(listed.stdout)] == ["owner@example.com"]


@pytest.mark.parametrize(
    "command", [(), ("run",), ("serve",), ("users", "create"), ("models", "fetch"), ("doctor",)]
)
def test_help_shows_flags_as_flags(command: tuple[str, ...]) -> None:
    """Rich's help tables printed `--json <bool>`, as if the flag took a value."""
    shown = facedubd(*command, "--help")
    assert shown.returncode == 0, shown.stderr
    assert "<bool>" not in shown.stdout
    assert "-h, --help" in shown.stdout


def _cuda_available() -> bool:
    import onnxruntime

    return "CUDAExecutionProvider" in onnxruntime.get_available_providers()


@pytest.mark.skipif(_cuda_available(), reason="this onnxruntime has CUDA")
@pytest.mark.parametrize("where", ["flag", "env", "config"])
def test_serve_refuses_cuda_it_cannot_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """It used to start, log DeviceUnavailable and answer `models: loading` for ever."""
    args = ["--port", "0"]
    if where == "flag":
        args += ["--device", "cuda"]
    elif where == "env":
        monkeypatch.setenv("FACEDUBD_DEVICE", "cuda")
    else:
        config = tmp_path / "facedubd.toml"
        config.write_text('device = "cuda"\n')
        args += ["--config", str(config)]
    done = serve_refused(tmp_path, *args)
    line = assert_one_error_line(done, "device_unavailable", status=1)  # as `facedubd run`
    assert line.startswith("error: device_unavailable: device cuda was requested but ")
    assert "has no CUDAExecutionProvider" in line and "onnxruntime-gpu" in line
    assert not (tmp_path / "data").exists()  # refused before the data dir or a socket


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--device", "tpu"), "--device must be auto, cpu or cuda, not 'tpu'."),
        (("--workers", "-1"), "setting workers must be 0 or more, got -1"),
        (("--public-url", "notaurl"), "--public-url must be an http:// or https:// URL"),
    ],
)
def test_serve_usage_errors_exit_2(tmp_path: Path, args: tuple[str, ...], words: str) -> None:
    """They all exited 1, as a failure does; `facedubd run` uses 2 for usage errors."""
    done = serve_refused(tmp_path, "--port", "0", *args)
    assert words in assert_one_error_line(done, "invalid_request", status=2)


@pytest.mark.parametrize(
    ("args", "status", "code"),
    [
        (("users", "create", "not-an-email"), 2, "invalid_request"),
        (("users", "create", "new@example.com", "--plan", "gold"), 2, "invalid_request"),
        (("users", "create", "ann@example.com"), 8, "already_exists"),
        (("users", "suspend", "nobody@example.com"), 4, "not_found"),
        (("users", "resume", "nobody@example.com"), 4, "not_found"),
        (("users", "set-plan", "ann@example.com", "gold"), 2, "invalid_request"),
        (("users", "set-overage", "ann@example.com", "maybe"), 2, "invalid_request"),
        (("users", "grant", "ann@example.com", "0"), 2, "invalid_request"),
        (("users", "grant", "nobody@example.com", "5"), 4, "not_found"),
        (("keys", "create", "--user", "nobody@example.com", "ci"), 4, "not_found"),
        (("keys", "create", "--user", "ann@example.com", "x" * 101), 2, "invalid_request"),
        (("keys", "create", "--user", "ann@example.com", "second"), 8, "key_limit"),
        (("models", "fetch", "no_such_model"), 2, "invalid_request"),
        (("models", "verify", "no_such_model"), 2, "invalid_request"),
        (("samples", "fetch", "no_such_sample.mp4"), 2, "invalid_request"),
    ],
)
def test_admin_exit_codes_follow_the_codes_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], status: int, code: str
) -> None:
    """Usage 2, not found 4, refused (it conflicts with what exists) 8: a duplicate email
    exited 1 like a failure while an unknown one exited 4."""
    monkeypatch.setenv("FACEDUBD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FACEDUBD_MAX_ACTIVE_KEYS", "1")  # ann's first key is the last one
    assert facedubd("users", "create", "ann@example.com").returncode == 0
    done = facedubd(*args)
    assert done.stdout == ""
    assert_one_error_line(done, code, status=status)


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ("serve", "--device", "tpu"),
            "--device must be auto, cpu or cuda, not 'tpu'. (see `facedubd serve -h`)",
        ),
        (
            ("run", "p.jpg", "v.mp4", "-o", "o.mp4", "--device", "tpu"),
            "--device must be auto, cpu or cuda, not 'tpu'. (see `facedubd run -h`)",
        ),
        (
            ("serve", "--port", "abc"),
            "--port must be a whole number, not 'abc'. (see `facedubd serve -h`)",
        ),
        (
            ("users", "grant", "ann@example.com", "many"),
            "CREDITS must be a whole number, not 'many'. (see `facedubd users grant -h`)",
        ),
        (
            ("users", "create"),
            "Missing argument 'email'. (see `facedubd users create -h`)",
        ),
        (("serve", "--bogus"), "No such option: --bogus"),
        (("bogus",), "No such command 'bogus'. (see `facedubd -h`)"),
    ],
)
def test_a_bad_command_line_is_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], line: str
) -> None:
    """`serve --device tpu` printed Usage, a hint and `Error: Invalid value for '--device':
    Value error, 'tpu' is not one of 'auto', 'cpu', 'cuda'.` (the parser's wording)."""
    monkeypatch.setenv("FACEDUBD_DATA_DIR", str(tmp_path / "data"))
    done = facedubd(*args)
    assert done.stdout == ""
    got = assert_one_error_line(done, "invalid_request", status=2)
    assert got.startswith(f"error: invalid_request: {line}"), got
    assert "Value error" not in got and "Input should be" not in got
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("args", [("users", "list"), ("serve", "--port", "0")])
def test_a_data_dir_that_cannot_be_made_is_one_error_line(
    monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    """FACEDUBD_DATA_DIR=/proc/nope crashed with a traceback (FileNotFoundError)."""
    monkeypatch.setenv("FACEDUBD_DATA_DIR", "/proc/nope")
    done = facedubd(*args)
    assert done.stdout == ""
    got = assert_one_error_line(done, "io_error", status=1)
    assert got == "error: io_error: No such file or directory: /proc/nope"
