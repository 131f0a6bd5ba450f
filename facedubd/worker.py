"""The worker: claims queued jobs, runs the pipeline in a child process, records stages.

A crash in the child fails the job (with a refund) and never takes the daemon down.
On start-up, jobs left `processing` by a daemon that died are requeued once, then failed."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import dataclasses
import json
import logging
import multiprocessing
import os
import shutil
import signal
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from facedubd.errors import (
    FacedubError,
    Interrupted,
    PipelineCrashed,
    PipelineError,
    StorageFull,
)
from facedubd.pipeline.types import STAGES
from facedubd.settings import DaemonSettings
from facedubd.store import Job, Store

log = logging.getLogger("facedubd.worker")
POLL_S = 0.1
IDLE_POLL_S = 2.0
KILL_AFTER_S = 3.0
PROGRESS_STEP = 0.01
MAX_ATTEMPTS = 2
PR_SET_PDEATHSIG = 1
LOW_DISK_BYTES = 1 << 20
SWEEP_EVERY_S = 600.0
VIEW_FILES = ("front.png", "three_quarter_left.png", "three_quarter_right.png", "close_up.png")


def child_main(
    photo: str, video: str, out_dir: str, settings: dict[str, Any], conn: Connection
) -> None:
    """Runs in the child process: the pipeline, reporting events and the outcome."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the daemon, which drains
    _die_with_parent()
    from facedubd.pipeline import run
    from facedubd.pipeline.types import PipelineSettings

    def on_event(stage: str, progress: float) -> None:
        conn.send(("event", stage, float(progress)))

    try:
        result = run(
            Path(photo), Path(video), Path(out_dir), PipelineSettings(**settings), on_event
        )
        conn.send(("done", str(result.output)))
    except FacedubError as error:
        conn.send(("error", error.code, error.message))
    except Exception as error:  # the daemon logs the kind, never the details
        conn.send(("error", PipelineError.code, PipelineError().message, type(error).__name__))
    finally:
        conn.close()


def _die_with_parent() -> None:
    """Linux: a daemon killed with -9 takes its pipeline child with it (no orphan jobs)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclasses.dataclass
class _Running:
    job: Job
    process: BaseProcess
    cancelled: bool = False


async def verify_output(path: Path) -> bool:
    """ffprobe says the file has a video stream and a positive duration."""
    if not path.is_file():
        return False
    proc = await asyncio.create_subprocess_exec(
        "ffprobe",
        "-v",
        "error",
        "-show_entries",
        "format=duration:stream=codec_type",
        "-of",
        "json",
        str(path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        return False
    info = json.loads(out or b"{}")
    kinds = {s.get("codec_type") for s in info.get("streams", [])}
    return "video" in kinds and float(info.get("format", {}).get("duration", 0)) > 0


def disk_nearly_full(path: Path) -> bool:
    """Under 1 MiB left: what a pipeline that failed writing has most likely run into."""
    try:
        return shutil.disk_usage(path).free < LOW_DISK_BYTES
    except OSError:
        return False


def artifacts_in(out_dir: Path, stage: str = "done") -> list[str]:
    """The artifacts in `out_dir` that a job at `stage` has finished making: the views
    once `generating_views` is over, the preview once `compositing_scene` is."""
    order = STAGES.index(stage) if stage in STAGES else len(STAGES)
    names = []
    if order > STAGES.index("compositing_scene") and (out_dir / "preview.jpg").is_file():
        names.append("preview.jpg")
    if order > STAGES.index("generating_views"):
        names += [name for name in VIEW_FILES if (out_dir / "views" / name).is_file()]
    return names


class Worker:
    def __init__(
        self,
        store: Store,
        settings: DaemonSettings,
        jobs_dir: Path,
        notify: Callable[[str], None],
    ) -> None:
        self.store = store
        self.settings = settings
        self.jobs_dir = jobs_dir
        self.notify = notify
        self._wake = asyncio.Event()
        self._stopping = False
        self._hard_stop = False
        self._running: dict[str, _Running] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._job_tasks: set[asyncio.Task[None]] = set()

    # -- life cycle -----------------------------------------------------------------

    async def recover(self) -> None:
        """Requeue jobs a dead daemon left `processing` once; fail and refund them after."""
        for job in await self.store.processing_jobs():
            if job.attempts >= MAX_ATTEMPTS:
                await self.store.fail_job(job.id, Interrupted().message, Interrupted.code, _now())
                self._remove(job.id, keep_output=False)
                log.warning("job %s was interrupted again: failed and refunded", job.id)
            else:
                shutil.rmtree(self.jobs_dir / job.id / "out", ignore_errors=True)
                await self.store.requeue_job(job.id)
                log.warning("job %s was left running by a daemon that stopped: requeued", job.id)
            self.notify(job.id)

    def start(self) -> None:
        for slot in range(self.settings.workers):
            self._tasks.append(asyncio.create_task(self._slot(), name=f"worker-slot-{slot}"))
        self._tasks.append(asyncio.create_task(self._sweeper(), name="retention-sweep"))

    def wake(self) -> None:
        self._wake.set()

    async def cancel(self, job_id: str) -> None:
        running = self._running.get(job_id)
        if running is not None:
            running.cancelled = True
            await self._stop_process(running.process)
        else:  # a queued job: its inputs go now, like any job that ends
            self._remove(job_id, keep_output=False)

    async def drain(self, grace_s: float, force: Callable[[], bool]) -> None:
        """Stop claiming; let running jobs finish within `grace_s`; requeue the rest."""
        self._stopping = True
        self._wake.set()
        deadline = time.monotonic() + grace_s
        while self._running and time.monotonic() < deadline and not force():
            await asyncio.sleep(POLL_S)
        self._hard_stop = True
        for running in list(self._running.values()):
            await self._stop_process(running.process)
        if self._job_tasks:
            await asyncio.wait(self._job_tasks, timeout=10)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- slots ----------------------------------------------------------------------

    async def _slot(self) -> None:
        while not self._stopping:
            job = await self.store.claim_next_job(_now())
            if job is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), IDLE_POLL_S)
                continue
            self.notify(job.id)
            task = asyncio.create_task(self._run(job))
            self._job_tasks.add(task)
            try:
                await asyncio.shield(task)
            finally:
                self._job_tasks.discard(task)

    async def _run(self, job: Job) -> None:
        try:
            await self._run_child(job)
        except Exception as error:
            log.error("job %s: worker error %s", job.id, type(error).__name__)
            await self._fail(job, PipelineError.code, PipelineError().message)

    async def _run_child(self, job: Job) -> None:
        job_dir = self.jobs_dir / job.id
        out_dir = job_dir / "out"
        shutil.rmtree(out_dir, ignore_errors=True)
        out_dir.mkdir(mode=0o700, parents=True)
        context = multiprocessing.get_context("spawn")
        receiver, sender = context.Pipe(duplex=False)
        settings = {
            "duration": job.duration_seconds,
            "device": self.settings.device,
            "threads": max(1, (os.cpu_count() or 1) // max(1, self.settings.workers)),
        }
        inputs = job_dir / "inputs"
        process = context.Process(
            target=child_main,
            args=(str(inputs / "photo"), str(inputs / "video"), str(out_dir), settings, sender),
            daemon=True,
        )
        process.start()
        sender.close()
        running = _Running(job, process)
        self._running[job.id] = running
        try:
            outcome = await self._watch(job, process, receiver)
        finally:
            self._running.pop(job.id, None)
            receiver.close()
            await self._stop_process(process)  # e.g. the database refused a progress write
        await self._settle(running, outcome)

    async def _watch(
        self, job: Job, process: BaseProcess, receiver: Connection
    ) -> tuple[Any, ...] | None:
        outcome: tuple[Any, ...] | None = None
        last = (job.stage, -1.0, 0.0)
        while True:
            alive = process.is_alive()
            while receiver.poll():
                try:
                    message = receiver.recv()
                except (EOFError, OSError):
                    break
                if message[0] == "event":
                    last = await self._progress(job, message[1], message[2], last)
                else:
                    outcome = message
            if not alive:
                break
            await asyncio.sleep(POLL_S)
        await asyncio.to_thread(process.join, KILL_AFTER_S)
        return outcome

    async def _progress(
        self, job: Job, stage: str, progress: float, last: tuple[str, float, float]
    ) -> tuple[str, float, float]:
        if stage == "done":  # the completion record sets it, with status `completed`
            return last
        now = time.monotonic()
        moved = stage != last[0] or progress - last[1] >= PROGRESS_STEP or now - last[2] > 1.0
        if not moved:
            return last
        # A new stage: list what the stages before it made (the job's artifacts, shown as
        # soon as they exist, e.g. the views while the video is still being made).
        made = artifacts_in(self.jobs_dir / job.id / "out", stage) if stage != last[0] else None
        await self.store.set_progress(
            job.id, stage, min(max(progress, 0.0), 1.0), time.time(), artifacts=made or None
        )
        self.notify(job.id)
        return (stage, progress, now)

    async def _settle(self, running: _Running, outcome: tuple[Any, ...] | None) -> None:
        job = running.job
        if running.cancelled:
            self._remove(job.id, keep_output=False)
        elif self._hard_stop and outcome is None:
            # Back in the queue with its inputs only: what this run made so far (views,
            # a partial video) is made again when it runs, and must not linger meanwhile.
            shutil.rmtree(self.jobs_dir / job.id / "out", ignore_errors=True)
            await self.store.requeue_job(job.id, undo_attempt=True)
            self.notify(job.id)
        elif outcome is not None and outcome[0] == "done":
            await self._succeed(job)
        elif outcome is not None:
            if len(outcome) > 3:
                log.error("job %s: pipeline raised %s", job.id, outcome[3])
            await self._fail(job, str(outcome[1]), str(outcome[2]))
        else:
            log.error("job %s: pipeline process exited with %s", job.id, running.process.exitcode)
            await self._fail(job, PipelineCrashed.code, PipelineCrashed().message)

    async def _succeed(self, job: Job) -> None:
        out_dir = self.jobs_dir / job.id / "out"
        if not await verify_output(out_dir / "output.mp4"):
            await self._fail(job, PipelineError.code, "The generated video failed verification.")
            return
        shutil.rmtree(self.jobs_dir / job.id / "inputs", ignore_errors=True)
        for path in out_dir.rglob("*"):
            with contextlib.suppress(OSError):
                path.chmod(0o700 if path.is_dir() else 0o600)
        await self.store.complete_job(job.id, artifacts_in(out_dir), _now())
        self.notify(job.id)

    async def _fail(self, job: Job, code: str, message: str) -> None:
        if disk_nearly_full(self.jobs_dir):
            code, message = StorageFull.code, StorageFull().message
        self._remove(job.id, keep_output=False)  # first: the record needs the room it frees
        await self.store.fail_job(job.id, message, code, _now())
        self.notify(job.id)

    def _remove(self, job_id: str, keep_output: bool) -> None:
        shutil.rmtree(self.jobs_dir / job_id / "inputs", ignore_errors=True)
        if not keep_output:
            shutil.rmtree(self.jobs_dir / job_id / "out", ignore_errors=True)
            with contextlib.suppress(OSError):  # a job that keeps nothing keeps no folder
                (self.jobs_dir / job_id).rmdir()

    async def _stop_process(self, process: BaseProcess) -> None:
        if process.is_alive():
            process.terminate()
            await asyncio.to_thread(process.join, KILL_AFTER_S)
        if process.is_alive():
            process.kill()
            await asyncio.to_thread(process.join, KILL_AFTER_S)

    # -- retention ------------------------------------------------------------------

    async def sweep_once(self) -> int:
        """Delete outputs past `output_retention_days`; prune old idempotency records."""
        now = _now()
        before = now - round(self.settings.output_retention_days * 86400)
        swept = 0
        for job in await self.store.expired_outputs(before):
            shutil.rmtree(self.jobs_dir / job.id, ignore_errors=True)
            await self.store.mark_swept(job.id)
            swept += 1
        await self.store.prune_idempotency(now - 86400)
        return swept

    async def _sweeper(self) -> None:
        retention_s = self.settings.output_retention_days * 86400
        every = min(SWEEP_EVERY_S, max(1.0, retention_s / 4))
        while not self._stopping:
            try:
                await self.sweep_once()
            except Exception as error:
                log.error("retention sweep failed: %s", type(error).__name__)
            await asyncio.sleep(every)


def _now() -> int:
    return int(time.time())
