"""`facedub jobs`: create, follow, list, download, cancel and delete jobs."""

from __future__ import annotations

import errno
import os
import re
import shlex
import tempfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

import typer

from facedub_cli.errors import FaceDubError
from facedub_cli.state import AppState, get_state
from facedub_cli.ui import (
    age,
    byte_progress,
    note,
    print_fields,
    print_raw,
    print_table,
    stage_progress,
)

if TYPE_CHECKING:
    from facedub_cli.client import FaceDubClient

app = typer.Typer(help="Create and manage video jobs.", no_args_is_help=True)

# facedubd's ids are 12 hex digits, as the hosted API's examples; what is checked here is
# only what any id must be to stay one URL path segment (no `/`, `..`, `?`, `%`, space).
JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


# What each kind of id looks like (facedubd's), for the refusal's example.
ID_EXAMPLES = {"job": "0123456789ab", "key": "key_0123456789abcdef"}


def checked_id(text: str, kind: str) -> str:
    """An id as typed: refused here when it cannot be one (nothing is sent)."""
    if not JOB_ID.fullmatch(text):
        raise typer.BadParameter(
            f"{text!r} cannot be a {kind} id: ids are letters, digits, '-' and '_', "
            f"like {ID_EXAMPLES[kind]}"
        )
    return text


def job_id_value(text: str) -> str:
    """A job id as typed (`checked_id`)."""
    return checked_id(text, "job")


JobId = Annotated[
    str,
    typer.Argument(metavar="ID", parser=job_id_value, help="The job's id (see `jobs list`)."),
]


# A whole number as typed in ASCII digits: int() would also take "２" (full width) and
# "1_0", which the server refuses as a duration (invalid_duration) and no one means.
WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")


def whole_number(text: str) -> int | None:
    """`text` as a whole number in ASCII digits (spaces around it allowed), else None."""
    stripped = text.strip()
    return int(stripped) if WHOLE_NUMBER.fullmatch(stripped) else None


def seconds(text: str) -> int:
    """--duration's value: a whole number (the server checks the range: invalid_duration)."""
    value = whole_number(text)
    if value is None:
        raise typer.BadParameter(f"{text!r} is not a whole number of seconds")
    return value


def list_limit(text: str) -> int:
    """--limit's value, checked here: the server takes 1-50."""
    value = whole_number(text)
    if value is None or not 1 <= value <= 50:
        raise typer.BadParameter(f"{text!r} is not a whole number from 1 to 50")
    return value


def _failure(job: dict[str, Any]) -> FaceDubError:
    reason = job.get("error") or "no reason given"
    code = job.get("error_code") or "failed"
    return FaceDubError(
        "job_failed", f"job {job.get('id')} failed at stage {job.get('stage')} ({code}): {reason}"
    )


def _follow(
    client: FaceDubClient, job_id: str, state: AppState, each_line: bool, then: str = ""
) -> dict[str, Any]:
    """Wait for the job to end, showing progress; with `each_line`, print every update.

    Ctrl-C stops following, not the job: say so, how to follow it again and, with `then`
    (a command), what to run once it completes (exit 130)."""
    try:
        with stage_progress(state.show_progress) as update:

            def on_update(job: dict[str, Any], raw: str) -> None:
                update(job)
                if each_line:
                    print_raw(raw)

            return client.wait_for_job(job_id, on_update)
    except KeyboardInterrupt:
        after = f" until it completes, then `{then}`" if then else ""
        note(f"stopped following job {job_id}; it goes on: `facedub jobs watch {job_id}`{after}")
        raise typer.Exit(130) from None


# The names an MP4 file plays under, as `facedubd run -o` takes them.
MP4_SUFFIXES = frozenset({".mp4", ".m4v", ".mov"})


def check_output(
    output: Path | None, default: str = "ID.mp4", inputs: dict[str, Path] | None = None
) -> None:
    """Refuse an -o (None: ./`default`) that cannot be written before anything is uploaded,
    charged or downloaded: a folder, something that is not a file, one of the command's
    `inputs` (the same path, a symlink or a hard link to it), a name that is not an MP4
    file's, a parent that is a file, or a folder that cannot be made or written in. An
    existing unrelated file is overwritten, as `curl -o` does."""
    if output is None:
        problem = unwritable(Path.cwd())
        if problem:
            raise FaceDubError(
                "usage_error", f"without -o the video would go to ./{default}, but {problem}"
            )
        return
    if output.is_dir():
        raise FaceDubError("usage_error", f"-o {output} is a folder: name the video file to write")
    if os.path.lexists(output) and not output.is_file():
        raise FaceDubError("usage_error", f"-o {output} exists and is not a regular file")
    clash = input_named_by(output, inputs or {})
    if clash:
        raise FaceDubError(
            "usage_error", f"-o {output} names the {clash} itself: write the video to another file"
        )
    if output.suffix.lower() not in MP4_SUFFIXES:
        raise FaceDubError(
            "usage_error",
            f"-o {output} must name an MP4 file (.mp4, .m4v or .mov): the video is H.264 in MP4",
        )
    problem = unwritable(output.parent)
    if problem:
        raise FaceDubError("usage_error", f"-o {output}: {problem}")


def input_named_by(output: Path, inputs: dict[str, Path]) -> str | None:
    """Which of `inputs` (if any) writing OUTPUT would destroy: the same path, a symlink
    to it, or a hard link (as `facedubd run` refuses them)."""
    for name, path in inputs.items():
        if path.resolve() == output.resolve() or (
            path.exists() and output.exists() and path.samefile(output)
        ):
            return name
    return None


def unwritable(folder: Path) -> str | None:
    """Why files cannot be written in `folder` (made as needed), or None when they can.

    The nearest folder that exists is tried for real (a file or folder made and removed
    at once), so a read-only or virtual file system (/proc) is found as well as modes.
    The OS's reason is kept unless it is ENOENT: the folder is there (/proc answers so)."""
    base = folder
    while not os.path.lexists(base) and base.parent != base:
        base = base.parent
    if not base.is_dir():
        return f"{base} is {'a file, not a folder' if os.path.lexists(base) else 'missing'}"
    try:
        if base == folder:
            handle, name = tempfile.mkstemp(prefix=".facedub-", dir=base)
            os.close(handle)
            os.unlink(name)
        else:
            os.rmdir(tempfile.mkdtemp(prefix=".facedub-", dir=base))
    except OSError as error:
        verb = "write in" if base == folder else "make folders in"
        reason = "" if error.errno == errno.ENOENT else f" ({error.strerror or error})"
        return f"cannot {verb} {base}{reason}"
    return None


def _download(client: FaceDubClient, url: str, dest: Path, state: AppState) -> Path:
    with byte_progress(f"download {dest.name}", state.show_progress) as progress:
        return client.download(url, dest, on_progress=progress)


def artifact_urls(artifacts: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Flatten the job's `artifacts` (nested names → signed URLs) into (name, url) pairs."""
    if isinstance(artifacts, str):
        return [(prefix or "artifact", artifacts)]
    pairs: list[tuple[str, str]] = []
    if isinstance(artifacts, dict):
        for name, value in artifacts.items():
            pairs += artifact_urls(value, f"{prefix}{name}" if not prefix else f"{prefix}/{name}")
    elif isinstance(artifacts, list):
        for index, value in enumerate(artifacts):
            if isinstance(value, dict) and "url" in value:
                name = str(value.get("name") or index)
                pairs.append((f"{prefix}/{name}" if prefix else name, str(value["url"])))
            else:
                pairs += artifact_urls(value, f"{prefix}/{index}" if prefix else str(index))
    return pairs


def artifact_path(folder: Path, name: str, url: str) -> Path:
    suffix = PurePosixPath(urlsplit(url).path).suffix
    relative = Path(*[part for part in name.split("/") if part not in ("", ".", "..")])
    return folder / relative.with_suffix(suffix) if suffix else folder / relative


@app.command("create")
def create(
    ctx: typer.Context,
    photo: Annotated[
        Path,
        typer.Argument(
            metavar="PHOTO", exists=True, dir_okay=False, readable=True, help="The character photo."
        ),
    ],
    video: Annotated[
        Path,
        typer.Argument(
            metavar="VIDEO", exists=True, dir_okay=False, readable=True, help="The reference video."
        ),
    ],
    duration: Annotated[
        int | None,
        typer.Option(
            "--duration",
            "-d",
            parser=seconds,
            help="Seconds of video to make, 1-30 (server default 5).",
        ),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", "-w", help="Follow the job live, then download the video.")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Where to save the MP4 (.mp4, .m4v or .mov; implies --wait). Default: ./ID.mp4.",
        ),
    ] = None,
) -> None:
    """Upload PHOTO (the character) and VIDEO (the reference) and start a job.

    With --wait (or -o): follow it live, download the video when done, exit 6 if it fails.
    """
    state = get_state(ctx)
    if wait or output is not None:
        check_output(output, inputs={"photo": photo, "video": video})
    with state.client() as client:
        with byte_progress("upload", state.show_progress) as progress:
            created = client.create_job(photo, video, duration, on_progress=progress)
        if not (wait or output):
            if state.json:
                print_raw(client.last_body)
            else:
                _print_created(created, state)
            return
        job_id = str(created["job_id"])
        if not state.quiet and not state.json:
            note(charged_note(created))
        # `jobs download` refuses a job that has not completed: watch it first
        fetch = f"facedub jobs download {job_id}"
        if output is not None:
            fetch += f" -o {shlex.quote(str(output))}"
        job = _follow(client, job_id, state, each_line=False, then=fetch)
        final_body = client.last_body
        if job.get("status") != "completed":
            if state.json:
                print_raw(final_body)
            raise _failure(job)
        saved = _download(client, str(job["output_url"]), output or Path(f"{job_id}.mp4"), state)
    if state.json:
        print_raw(final_body)
    else:
        print(saved)


def charged_note(created: dict[str, Any]) -> str:
    """What `jobs create --wait` says once the job is in: its id, its charge and, when the
    charge is past the month's credits, that it is overage (else said only without --wait)."""
    credits = created.get("credits_charged")
    overage = " (overage: past this month's limit)" if created.get("is_overage") else ""
    plural = "" if credits == 1 else "s"
    return f"job {created.get('job_id')}: {credits} credit{plural} charged{overage}"


def _print_created(created: dict[str, Any], state: AppState) -> None:
    print_fields(
        [
            ("job", str(created.get("job_id"))),
            ("status", str(created.get("status"))),
            ("credits charged", str(created.get("credits_charged"))),
            ("overage", "yes" if created.get("is_overage") else "no"),
        ]
    )
    if not state.quiet:
        job_id = created.get("job_id")
        done = f"once it completes, facedub jobs download {job_id}"
        note(f"follow it: facedub jobs watch {job_id}; {done}")


def credits_text(job: dict[str, Any]) -> str:
    """`credits_charged`, and whether it was given back: facedubd refunds every job it
    fails (a cancel too) in the same step that sets `error_code`, so a failed job with
    one was refunded; the number stays what was charged, as the API reports it."""
    charged = str(job.get("credits_charged"))
    if job.get("status") == "failed" and job.get("error_code"):
        return f"{charged} (refunded)"
    return charged


def job_rows(jobs: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [
            str(job.get("id")),
            str(job.get("status")),
            str(job.get("stage") or "-"),
            f"{job.get('duration_seconds')}s",
            credits_text(job),
            age(job.get("created_at")),
        ]
        for job in jobs
    ]


@app.command("list")
def list_jobs(
    ctx: typer.Context,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit", "-n", parser=list_limit, help="At most this many (1-50), newest first."
        ),
    ] = None,
) -> None:
    """List your recent jobs, newest first."""
    state = get_state(ctx)
    with state.client() as client:
        jobs = client.list_jobs(limit=limit)
        if state.json:
            print_raw(client.last_body)
            return
    print_table(["ID", "STATUS", "STAGE", "DURATION", "CREDITS", "AGE"], job_rows(jobs))


# A completed job without an output_url: facedubd drops the link once the retention sweep
# (setting output_retention_days) has deleted the files.
OUTPUT_GONE = "its video is no longer kept (deleted after the server's retention period)"


def job_fields(job: dict[str, Any]) -> list[tuple[str, str]]:
    pairs = [
        ("id", str(job.get("id"))),
        ("status", str(job.get("status"))),
        ("stage", str(job.get("stage") or "-")),
    ]
    if isinstance(job.get("progress"), int | float):
        pairs.append(("progress", f"{float(job['progress']):.0%}"))
    pairs += [
        ("duration", f"{job.get('duration_seconds')}s"),
        ("credits", credits_text(job)),
        ("created", f"{age(job.get('created_at'))} ago"),
    ]
    if job.get("error"):
        pairs.append(("error", f"{job.get('error')} ({job.get('error_code')})"))
    if job.get("output_url"):
        pairs.append(("output", str(job["output_url"])))
    elif job.get("status") == "completed":
        pairs.append(("output", f"none: {OUTPUT_GONE}"))
    return pairs


@app.command("get")
def get(ctx: typer.Context, job_id: JobId) -> None:
    """Show one job."""
    state = get_state(ctx)
    with state.client() as client:
        job = client.get_job(job_id)
        if state.json:
            print_raw(client.last_body)
            return
    print_fields(job_fields(job))


@app.command("watch")
def watch(ctx: typer.Context, job_id: JobId) -> None:
    """Follow a job live until it ends (exit 6 if it fails). --json: one job object per line."""
    state = get_state(ctx)
    with state.client() as client:
        job = _follow(client, job_id, state, each_line=state.json)
    if job.get("status") != "completed":
        raise _failure(job)
    if not state.json:
        print_fields(job_fields(job))


@app.command("download")
def download(
    ctx: typer.Context,
    job_id: JobId,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Where to save the MP4 (.mp4, .m4v or .mov). Default: ./ID.mp4.",
        ),
    ] = None,
    views: Annotated[
        bool,
        typer.Option(
            "--views", help="Also save the views and the preview, into OUTPUT's stem + '_views/'."
        ),
    ] = False,
) -> None:
    """Download a completed job's video (and with --views its views and preview)."""
    state = get_state(ctx)
    check_output(output, f"{job_id}.mp4")
    target = output or Path(f"{job_id}.mp4")
    folder = target.with_name(target.stem + "_views")
    if views and os.path.lexists(folder) and not folder.is_dir():
        raise FaceDubError("usage_error", f"--views: {folder} is a file, not a folder")
    with state.client() as client:
        job = client.get_job(job_id)
        body = client.last_body
        if job.get("status") == "failed":
            raise _failure(job)
        if job.get("status") != "completed":
            raise FaceDubError(
                "job_not_finished", f"job {job_id} is {job.get('status')}: no video yet"
            )
        if not job.get("output_url"):
            raise FaceDubError("output_deleted", f"job {job_id} completed, but {OUTPUT_GONE}")
        saved = [_download(client, str(job["output_url"]), target, state)]
        if views:
            for name, url in artifact_urls(job.get("artifacts") or {}):
                path = artifact_path(folder, name, url)
                saved.append(_download(client, url, path, state))
    if state.json:
        print_raw(body)
    else:
        for path in saved:
            print(path)


@app.command("cancel")
def cancel(ctx: typer.Context, job_id: JobId) -> None:
    """Cancel a queued or running job (its credits are refunded)."""
    state = get_state(ctx)
    with state.client() as client:
        job = client.cancel_job(job_id)
        if state.json:
            print_raw(client.last_body)
            return
    if not state.quiet:
        print(f"cancelled {job.get('id')} at stage {job.get('stage')}")


@app.command("delete")
def delete(ctx: typer.Context, job_id: JobId) -> None:
    """Delete a job: cancel it if running, remove its files, output and artifacts."""
    state = get_state(ctx)
    with state.client() as client:
        client.delete_job(job_id)
    if not state.quiet and not state.json:
        print(f"deleted {job_id}")
