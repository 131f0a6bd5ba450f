"""`facedubd run` refusals through the installed console script: exactly one stderr line
`error: <code>: <sentence>`, exit 2 for inputs, no traceback, nothing on stdout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from facedubd.samples import sample_path

FACEDUBD = Path(sys.executable).parent / "facedubd"


def facedubd_run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FACEDUBD), "run", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def run_samples(
    photo: str, output: str, duration: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    """`facedubd run` on the sample `photo` and the sample clip single_face.mp4."""
    return facedubd_run(
        str(sample_path(photo)),
        str(sample_path("single_face.mp4")),
        *("-o", output, "--duration", duration, *extra),
    )


def start_run(video: str, out: Path, duration: str, **popen: Any) -> subprocess.Popen[str]:
    """`facedubd run` on grace_hopper.jpg and a sample `video`, in the background, its
    output read as text (FACEDUB_DEBUG unset, so errors are the user's one line)."""
    return subprocess.Popen(
        [
            str(FACEDUBD),
            "run",
            str(sample_path("grace_hopper.jpg")),
            str(sample_path(video)),
            *("-o", str(out), "--duration", duration),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "FACEDUB_DEBUG"},
        **popen,
    )


def assert_one_error_line(done: subprocess.CompletedProcess[str], code: str, exit_code: int) -> str:
    assert done.returncode == exit_code, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: {code}: ")
    assert "Traceback" not in done.stderr
    return lines[0]


@pytest.mark.parametrize("value", ["abc", "2.5", ""])
def test_duration_that_is_not_a_whole_number(tmp_path: Path, value: str) -> None:
    done = run_samples("astronaut.png", str(tmp_path / "out.mp4"), value)
    line = assert_one_error_line(done, "invalid_duration", 2)
    assert "1 to 30" in line
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_duration_out_of_range(tmp_path: Path) -> None:
    done = run_samples("astronaut.png", str(tmp_path / "out.mp4"), "31")
    line = assert_one_error_line(done, "invalid_duration", 2)
    assert "1 to 30" in line
    assert done.stdout == ""
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_photo_without_a_face(tmp_path: Path, json_flag: list[str]) -> None:
    done = run_samples("free-mountain-vector-01.jpg", str(tmp_path / "out.mp4"), "2", *json_flag)
    line = assert_one_error_line(done, "no_face_in_photo", 2)
    assert str(tmp_path) not in line
    if json_flag:
        assert done.stdout == ""
    else:  # not a terminal: the stages as plain lines on stdout
        assert done.stdout.splitlines()[0] == "preparing: Checking and preparing the inputs"
    assert list(tmp_path.iterdir()) == []  # the work folder was removed


def test_a_refused_run_leaves_no_folder_it_made_for_o(tmp_path: Path) -> None:
    """-o new/deeper/x.mp4: the missing folders are made for the run; refused, it left
    them behind, empty."""
    (tmp_path / "kept").mkdir()
    for output in (tmp_path / "new" / "deeper" / "x.mp4", tmp_path / "kept" / "sub" / "x.mp4"):
        done = run_samples("free-mountain-vector-01.jpg", str(output), "2", "--json")
        assert_one_error_line(done, "no_face_in_photo", 2)
    assert [path.name for path in tmp_path.iterdir()] == ["kept"]  # there before: kept
    assert list((tmp_path / "kept").iterdir()) == []


def test_clip_too_short_names_both_lengths(tmp_path: Path) -> None:
    done = run_samples("grace_hopper.jpg", str(tmp_path / "out.mp4"), "10")
    line = assert_one_error_line(done, "video_too_short", 2)
    assert "2.43 s long" in line and "10 s" in line


def test_clip_shorter_than_the_default_says_it_is_the_default(tmp_path: Path) -> None:
    """Without --duration a 2.43 s clip was "shorter than the 5 s asked for": nobody had
    asked for 5 s (QA pass)."""
    done = facedubd_run(
        str(sample_path("grace_hopper.jpg")),
        str(sample_path("single_face.mp4")),
        *("-o", str(tmp_path / "out.mp4")),
    )
    line = assert_one_error_line(done, "video_too_short", 2)
    assert line == (
        "error: video_too_short: The video is 2.43 s long, shorter than the 5 s duration "
        "(the default when none is given): send a clip at least 5 s long or ask for a "
        "shorter duration."
    )


def test_missing_video_file(tmp_path: Path) -> None:
    done = facedubd_run(
        str(sample_path("grace_hopper.jpg")),
        str(tmp_path / "nowhere.mp4"),
        *("-o", str(tmp_path / "out.mp4"), "--duration", "2"),
    )
    line = assert_one_error_line(done, "unreadable_video", 2)
    assert "cannot be found" in line and "nowhere" not in line


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    done = facedubd_run(
        str(sample_path("free-mountain-vector-01.jpg")),
        str(sample_path("single_face.mp4")),
        *("-o", str(tmp_path / "out.mp4"), "--duration", "2"),
        env={"FACEDUB_DEBUG": "1"},
    )
    assert done.returncode != 0
    assert "NoFaceInPhoto" in done.stderr


def test_help_names_every_option() -> None:
    done = subprocess.run(
        [str(FACEDUBD), "run", "--help"], capture_output=True, text=True, check=True
    )
    for option in ("--output", "-o", "--duration", "--device", "--json"):
        assert option in done.stdout


def test_output_that_is_a_folder(tmp_path: Path) -> None:
    done = run_samples("grace_hopper.jpg", str(tmp_path), "2")
    line = assert_one_error_line(done, "invalid_request", 2)
    assert "not a folder" in line


@pytest.mark.parametrize("which", ["photo", "video"])
def test_output_that_is_an_input_is_refused(tmp_path: Path, which: str) -> None:
    photo = tmp_path / "photo.jpg"
    video = tmp_path / "video.mp4"
    photo.write_bytes(sample_path("grace_hopper.jpg").read_bytes())
    video.write_bytes(sample_path("single_face.mp4").read_bytes())
    before = {photo: photo.read_bytes(), video: video.read_bytes()}
    target = photo if which == "photo" else video
    done = facedubd_run(str(photo), str(video), *("-o", str(target), "--duration", "2"))
    line = assert_one_error_line(done, "invalid_request", 2)
    assert f"the {which}" in line
    assert {path: path.read_bytes() for path in before} == before  # the input is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.jpg", "video.mp4"]


@pytest.mark.parametrize("delay_s", [0.05, 0.15, 0.25, 0.4])
def test_ctrl_c_at_any_moment_is_cancelled(tmp_path: Path, delay_s: float) -> None:
    """SIGINT while the models' libraries load turned into `internal` (an ImportError)."""
    process = start_run("single_face.mp4", tmp_path / "out.mp4", "2")
    assert process.stdout is not None
    assert process.stdout.readline().startswith("preparing:")
    time.sleep(delay_s)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert stderr == "error: cancelled: The job was cancelled.\n"
    assert process.returncode == 130  # the shell's convention for Ctrl-C
    assert list(tmp_path.iterdir()) == []  # no output, no work folder left behind


@pytest.mark.parametrize("name", ["out.webm", "out.gif", "out"])
def test_output_that_is_not_an_mp4_name_is_refused(tmp_path: Path, name: str) -> None:
    """The video is always H.264 in MP4: writing it under another format's name misleads."""
    done = run_samples("grace_hopper.jpg", str(tmp_path / name), "2")
    line = assert_one_error_line(done, "invalid_request", 2)
    assert "(.mp4, .m4v or .mov)" in line  # the names --help gives, all taken
    assert list(tmp_path.iterdir()) == []


def test_output_under_a_file_is_refused_before_the_run(tmp_path: Path) -> None:
    """-o afile/x.mp4 with afile a file failed as `pipeline_failed` (exit 1) without
    naming the folder; it is a usage error naming it."""
    taken = tmp_path / "afile"
    taken.write_text("mine")
    done = run_samples("grace_hopper.jpg", str(taken / "x.mp4"), "2")
    line = assert_one_error_line(done, "invalid_request", 2)
    assert line == (
        f"error: invalid_request: {taken} is a file, where the folder of -o must be: "
        "choose another -o."
    )
    assert done.stdout == ""
    assert taken.read_text() == "mine"


def test_side_folder_name_taken_by_a_file_is_refused_before_the_run(tmp_path: Path) -> None:
    """The views go to OUT.facedub/: a file of that name failed the run only at its end,
    as `internal`, with the video lost."""
    taken = tmp_path / "out.facedub"
    taken.write_text("mine")
    done = run_samples("grace_hopper.jpg", str(tmp_path / "out.mp4"), "2")
    line = assert_one_error_line(done, "invalid_request", 2)
    assert "out.facedub" in line
    assert done.stdout == ""  # refused before the pipeline started
    assert taken.read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.facedub"]


@pytest.mark.parametrize(
    ("output", "line"),
    [
        ("/proc/x.mp4", "The folder of -o, /proc, cannot be written: choose another -o."),
        ("/proc/new/x.mp4", "The folder of -o, /proc/new, cannot be made: choose another -o."),
    ],
)
def test_a_folder_that_cannot_be_written_is_refused_before_the_run(output: str, line: str) -> None:
    """It said "(no such file or directory)" of /proc, which is there."""
    done = run_samples("grace_hopper.jpg", output, "2")
    assert assert_one_error_line(done, "invalid_request", 2) == f"error: invalid_request: {line}"
    assert done.stdout == ""


@pytest.mark.parametrize(("stop", "status"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_kill_mid_run_removes_the_work_folder(
    tmp_path: Path, stop: signal.Signals, status: int
) -> None:
    """`kill` (SIGTERM) or a closed terminal (SIGHUP) once the views were written left
    `.facedub-*/` beside -o with the character's views and preview in it (QA pass)."""
    process = start_run("WolfgangLanger_Pexels.mp4", tmp_path / "out.mp4", "15")
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("generating_video:"):
            break  # the views and the preview are in the work folder by now
    work = [p for p in tmp_path.iterdir() if p.name.startswith(".facedub-")]
    assert len(work) == 1 and (work[0] / "views" / "front.png").is_file()
    process.send_signal(stop)
    _, stderr = process.communicate(timeout=60)
    assert stderr == "error: cancelled: The job was cancelled.\n"
    assert process.returncode == status  # 128 + the signal, as the shell reports it
    assert list(tmp_path.iterdir()) == []


def test_a_refused_run_removes_the_folders_it_made_for_output(tmp_path: Path) -> None:
    """`-o results/today/out.mp4` with a photo refused (or any failure, or Ctrl-C) left
    `results/today/` behind, empty; folders that were there already stay (QA pass)."""
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "old.mp4").write_bytes(b"mine")
    for output in ("results/today/out.mp4", "new/deeper/out.mp4"):
        done = facedubd_run(
            str(sample_path("free-mountain-vector-01.jpg")),
            str(sample_path("single_face.mp4")),
            *("-o", str(tmp_path / output), "--duration", "2"),
        )
        assert_one_error_line(done, "no_face_in_photo", 2)
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == [
        "results",
        "results/old.mp4",
    ]


def test_a_run_under_nohup_goes_on_after_sighup(tmp_path: Path) -> None:
    """SIGHUP stops a run as Ctrl-C does, unless it was ignored when the run started
    (`nohup facedubd run ...`): then the run goes on and writes its video."""
    ignore_hup = lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN)  # noqa: E731
    process = start_run("single_face.mp4", tmp_path / "out.mp4", "2", preexec_fn=ignore_hup)
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("generating_video:"):
            break
    process.send_signal(signal.SIGHUP)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert (tmp_path / "out.mp4").stat().st_size > 0
