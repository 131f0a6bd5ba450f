"""`facedubd run PHOTO VIDEO -o OUT.mp4`: one job on this machine, no server.

Stages show as they pass on stdout (a Rich progress bar on a terminal, plain lines
otherwise), then a summary; `--json` prints only the RunResult object. A failure is one
stderr line `error: <code>: <sentence>` and exit 2 for a refused input or argument, 130 for
Ctrl-C, 1 otherwise; FACEDUB_DEBUG=1 shows the traceback instead."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, NoReturn

import typer

from facedubd.commands.output import FAILURE_EXIT, exit_code
from facedubd.errors import Cancelled, FacedubError, InvalidRequest
from facedubd.pipeline.types import DEFAULT_DURATION_S, STAGES, PipelineSettings, RunResult

MP4_SUFFIXES = frozenset({".mp4", ".m4v", ".mov"})  # names an MP4 file plays under

STAGE_LABELS = {
    "preparing": "Checking and preparing the inputs",
    "generating_views": "Building the character and rendering its views",
    "extracting_keyframe": "Choosing the reference keyframe",
    "compositing_scene": "Fitting the character into the scene",
    "generating_video": "Generating the video",
    "encoding": "Encoding and verifying",
    "done": "Done",
}


class Device(StrEnum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


def side_folder(output: Path) -> Path:
    """Where the views and the preview of OUT.mp4 go: OUT.facedub/ beside it."""
    return output.with_name(output.stem + ".facedub")


def _debug() -> bool:
    return os.environ.get("FACEDUB_DEBUG") == "1"


def _fail(exc: BaseException, stopped_by: int = signal.SIGINT) -> NoReturn:
    if _debug():
        raise exc
    if isinstance(exc, FacedubError):
        code, message = exc.code, exc.message
        # Here a cancel is always a signal (other commands' "not confirmed" exits 1): Ctrl-C
        # exits 130, SIGTERM 143, SIGHUP 129, the shell's 128 + its number.
        status = 128 + stopped_by if isinstance(exc, Cancelled) else exit_code(exc)
    else:
        code, message, status = "internal", "Something went wrong inside facedub.", FAILURE_EXIT
    sys.stderr.write(f"error: {code}: {message}\n")
    if isinstance(exc, Cancelled):
        # Stopped mid-way, a model may still be loading on another thread: a normal exit
        # then runs onnxruntime's C++ teardown under it, which can abort with "terminate
        # called without an active exception" on stderr. Nothing is left to clean up.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    raise typer.Exit(status)


# Signals that stop a run as Ctrl-C does: `kill`, `timeout`, a service manager, a closed
# terminal. Each is a cancel, so the work folder (the character's views) is removed.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def _stop_noted() -> Iterator[Callable[[], int | None]]:
    """Note a stop signal as it arrives (its number, else None) and raise KeyboardInterrupt
    for it: one raised while a native library loads surfaces as another exception
    (onnxruntime's ImportError), yet it is a cancel."""
    seen: dict[str, int | None] = {"signal": None}

    def on_stop(signum: int, frame: FrameType | None) -> None:
        if seen["signal"] is None:
            seen["signal"] = signum
        signal.default_int_handler(signum, frame)

    previous = {
        signum: signal.signal(signum, on_stop)
        for signum in STOP_SIGNALS
        # `nohup` (SIGHUP) or a parent that ignores SIGTERM asked for the run to go on
        if signum == signal.SIGINT or signal.getsignal(signum) is not signal.SIG_IGN
    }
    try:
        yield lambda: seen["signal"]
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def _plain_events() -> Iterator[Callable[[str, float], None]]:
    last: dict[str, float] = {}

    def on_event(stage: str, progress: float) -> None:
        frames = "generating_video"
        if stage not in last:
            # The frame count is known only roughly beforehand: a stage that ends short
            # of its last step still ends at 100%.
            if frames in last and last[frames] < 1.0:
                typer.echo(f"{frames}: 100%")
                last[frames] = 1.0
            typer.echo(f"{stage}: {STAGE_LABELS.get(stage, stage)}")
            last[stage] = 0.0
        elif stage == frames and (progress - last[stage] >= 0.1 - 1e-9 or progress >= 1.0):
            if last[stage] < 1.0:
                typer.echo(f"{stage}: {progress:.0%}")
            last[stage] = progress

    yield on_event


@contextmanager
def _rich_events() -> Iterator[Callable[[str, float], None]]:
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

    shown = STAGES[1:]
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), transient=False
    ) as bar:
        task = bar.add_task(f"[1/{len(shown)}] {STAGE_LABELS['preparing']}", total=1.0)
        current = {"stage": "preparing"}

        def on_event(stage: str, progress: float) -> None:
            if stage != current["stage"]:
                bar.update(task, completed=1.0)
                current["stage"] = stage
                step = f"[{shown.index(stage) + 1}/{len(shown)}] " if stage in shown else ""
                task_label = step + STAGE_LABELS.get(stage, stage)
                bar.update(task, description=task_label, completed=0.0)
            bar.update(task, completed=1.0 if stage == "done" else progress)

        yield on_event


@contextmanager
def _quiet_events() -> Iterator[Callable[[str, float], None]]:
    yield lambda stage, progress: None


def _events(json_output: bool) -> Any:
    if json_output:
        return _quiet_events()
    return _rich_events() if sys.stdout.isatty() else _plain_events()


def _result_body(result: RunResult, output: Path, views_dir: Path, preview: Path) -> dict[str, Any]:
    """The RunResult with the paths the files were published to (the work folder is gone)."""
    from facedubd.pipeline.orchestrate import result_json

    body = result_json(result)
    body["output"] = str(output)
    body["preview"] = str(preview)
    body["views"] = {name: str(views_dir / path.name) for name, path in result.views.items()}
    body["views_dir"] = str(views_dir)
    return body


def _print_summary(body: dict[str, Any]) -> None:
    timings = body["timings_ms"]
    seconds = timings.get("generating_video", 0.0) / 1000
    speed = body["frames"] / seconds if seconds else 0.0
    total_s = sum(timings.get(stage, 0.0) for stage in STAGES) / 1000
    lines = [
        f"frames       {body['frames']} ({body['width']}x{body['height']} at "
        f"{body['fps']:.3f} fps, {body['duration_s']:.2f} s)",
        f"faces found  {body['frames_with_face']} of {body['frames']} frames",
        f"speed        {speed:.1f} frames/s generating, {total_s:.1f} s in all "
        f"({body['provider']})",
        f"output       {body['output']}",
        f"views        {body['views_dir']}",
        f"preview      {body['preview']}",
    ]
    typer.echo("\n".join(lines))


def _input_named_by(output: Path, **inputs: Path) -> str | None:
    """Which input (if any) OUTPUT would overwrite: the same path, or a link to it."""
    for name, path in inputs.items():
        path = path.expanduser()
        if path.resolve() == output or (
            path.exists() and output.exists() and path.samefile(output)
        ):
            return name
    return None


def _publish(result: RunResult, work: Path, output: Path) -> tuple[Path, Path]:
    """Move the video to OUT and the views and preview to OUT.facedub/ (0700)."""
    from facedubd.paths import ensure_private_dir

    folder = ensure_private_dir(side_folder(output))
    shutil.rmtree(folder / "views", ignore_errors=True)
    os.replace(work / "views", folder / "views")
    os.replace(result.preview, folder / "preview.jpg")
    os.replace(result.output, output)
    return folder / "views", folder / "preview.jpg"


def _work_folder(output: Path) -> tuple[Path, list[Path]]:
    """A private work folder beside OUTPUT, its missing parent folders made 0700 first
    (returned too, the deepest first); a parent that cannot be made or written is
    refused (exit 2) before any work."""
    from facedubd.paths import make_private_parents

    try:
        made = make_private_parents(output)
        return Path(tempfile.mkdtemp(prefix=".facedub-", dir=output.parent)), made  # 0700
    except NotADirectoryError as exc:
        where = exc.filename or output.parent
        _fail(
            InvalidRequest(f"{where} is a file, where the folder of -o must be: choose another -o.")
        )
    except OSError as exc:
        verb = "written" if output.parent.is_dir() else "made"
        # "No such file or directory" about a folder that is there (/proc) misleads.
        reason = "" if exc.errno == errno.ENOENT else f" ({(exc.strerror or 'error').lower()})"
        _fail(
            InvalidRequest(
                f"The folder of -o, {output.parent}, cannot be {verb}{reason}: choose another -o."
            )
        )


def run(
    photo: Annotated[Path, typer.Argument(help="The character photo (JPG, PNG, WebP, HEIC).")],
    video: Annotated[Path, typer.Argument(help="The reference video of someone talking.")],
    output: Annotated[
        Path,
        typer.Option(
            "-o",
            "--output",
            help=(
                "Where to write the MP4 (.mp4, .m4v or .mov); the views and preview go to "
                "OUT.facedub/ beside it."
            ),
        ),
    ],
    # text, checked by the shared input check: "abc" is `invalid_duration`, as through the API
    duration: Annotated[
        str,
        typer.Option(
            "--duration", metavar="<int>", help="Seconds of the reference to perform (1-30)."
        ),
    ] = str(DEFAULT_DURATION_S),
    device: Annotated[
        Device, typer.Option("--device", help="Where the models run (cuda: error if missing).")
    ] = Device.auto,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print only the result as one JSON object.")
    ] = False,
) -> None:
    """Perform VIDEO with the character of PHOTO, on this machine (no server needed).

    Exit codes: 0 done, 1 failed, 2 refused input or usage, 130 stopped by Ctrl-C (143
    by SIGTERM, 129 by SIGHUP; nothing is left behind); a failure prints one line
    `error: <code>: <sentence>` on stderr."""
    from facedubd.pipeline import run as run_pipeline
    from facedubd.pipeline.inputs import validate_duration

    output = output.expanduser().resolve()
    try:
        seconds = validate_duration(duration)
    except FacedubError as exc:
        _fail(exc)
    if output.is_dir():
        _fail(InvalidRequest("-o must name the video file to write, not a folder."))
    clash = _input_named_by(output, photo=photo, video=video)
    if clash:
        _fail(InvalidRequest(f"-o names the {clash} itself: write the video to another file."))
    if output.suffix.lower() not in MP4_SUFFIXES:
        _fail(
            InvalidRequest(
                "-o must name an MP4 file (.mp4, .m4v or .mov): the video is H.264 in MP4."
            )
        )
    side = side_folder(output)
    if side.exists() and not side.is_dir():
        _fail(
            InvalidRequest(
                f"{side.name} beside -o is a file, where the views go: choose another -o."
            )
        )
    work, made = _work_folder(output)
    settings = PipelineSettings(duration=seconds, device=device.value)
    failure: BaseException | None = None
    stopped_by: int | None = None
    try:
        with _stop_noted() as stop_signal, _events(json_output) as on_event:
            result = run_pipeline(photo, video, work, settings, on_event)
            views_dir, preview = _publish(result, work, output)
            body = _result_body(result, output, views_dir, preview)
    except KeyboardInterrupt:
        failure, stopped_by = Cancelled(), stop_signal()
    except Exception as exc:
        stopped_by = stop_signal()
        failure = Cancelled() if stopped_by is not None else exc
    finally:
        shutil.rmtree(work, ignore_errors=True)  # before any exit: no work folder is left
    if failure is not None:
        for folder in made:  # nor the folders made for -o, unless something went in them
            with contextlib.suppress(OSError):
                folder.rmdir()
        _fail(failure, stopped_by or signal.SIGINT)
    if json_output:
        sys.stdout.write(json.dumps(body, separators=(",", ":")) + "\n")
    else:
        _print_summary(body)
