"""One job, stage by stage (DESIGN "Pipeline stages"): `run(photo, video, out_dir, ...)`.

Writes `out_dir/output.mp4`, `out_dir/preview.jpg` and `out_dir/views/<view>.png`, every
file 0600 in 0700 folders; temporary files stay inside `out_dir` and are removed."""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import math
import os
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from facedubd.errors import PipelineError
from facedubd.paths import ensure_private_dir, write_private_file
from facedubd.pipeline import ffmpeg_args as fa
from facedubd.pipeline.inputs import (
    SAMPLE_FPS,
    InputCheck,
    VideoProbe,
    check_photo,
    check_video,
    follow_main_person,
    main_of,
    validate_duration,
)
from facedubd.pipeline.media import FrameReader, FrameWriter, VideoInfo, verify_output
from facedubd.pipeline.stream import FrameStats, run_frames
from facedubd.pipeline.types import VIEW_NAMES, EventCallback, PipelineSettings, RunResult

OUTPUT_NAME = "output.mp4"
PREVIEW_NAME = "preview.jpg"
VIEWS_DIR = "views"
_PARTIAL_NAME = ".output.partial.mp4"
#: generating_video reports progress at least this often (fraction of the frames).
PROGRESS_STEP = 0.02


@dataclasses.dataclass(frozen=True)
class Keyframe:
    frame: np.ndarray
    mesh: Any
    time_s: float
    score: float


class StageClock:
    """Announces stages through on_event and keeps each one's wall time in ms."""

    def __init__(self, on_event: EventCallback) -> None:
        self._on_event = on_event
        self.timings_ms: dict[str, float] = {}
        self._stage: str | None = None
        self._started = 0.0

    def enter(self, stage: str) -> None:
        self._close()
        self._stage, self._started = stage, time.perf_counter()
        self._on_event(stage, 0.0)

    def progress(self, fraction: float) -> None:
        assert self._stage is not None
        self._on_event(self._stage, min(1.0, max(0.0, fraction)))

    def finish(self) -> None:
        self._close()
        self._on_event("done", 1.0)

    def _close(self) -> None:
        if self._stage is not None:
            elapsed = (time.perf_counter() - self._started) * 1000
            self.timings_ms[self._stage] = round(elapsed, 1)


def _limit_threads(threads: int) -> None:
    """One thread per library where they share cores with ffmpeg (measured faster)."""
    import cv2

    cv2.setNumThreads(max(1, threads))


def _encode_image(rgb: np.ndarray, suffix: str) -> bytes:
    import cv2

    bgr = cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.uint8), cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, 92] if suffix == ".jpg" else []
    ok, data = cv2.imencode(suffix, bgr, params)
    if not ok:
        raise PipelineError(f"The {suffix[1:].upper()} image could not be written.")
    return bytes(data.tobytes())


def write_image(path: Path, rgb: np.ndarray) -> Path:
    write_private_file(path, _encode_image(rgb, path.suffix.lower()))
    return path


def write_views(views: dict[str, np.ndarray], folder: Path) -> dict[str, Path]:
    ensure_private_dir(folder)
    missing = [name for name in VIEW_NAMES if name not in views]
    if missing:
        raise PipelineError(f"The character's {missing[0].replace('_', ' ')} view is missing.")
    return {name: write_image(folder / f"{name}.png", views[name]) for name in VIEW_NAMES}


def expected_frames(info: VideoInfo, duration: float) -> int:
    """Frames the CFR decode yields: those starting within `duration` (padded at the end)."""
    return max(1, math.ceil(duration * info.rate - Fraction(1, 10**6)))


class KeyframePicker:
    """Keeps the sampled frame whose main face scores best (large, frontal, sharp); fed
    the faces of each sample (`see`), e.g. by the video check as it samples the clip."""

    def __init__(self) -> None:
        self.best: Keyframe | None = None

    def see(self, index: int, frame: np.ndarray, confirmed: list[tuple[Any, Any]]) -> None:
        from facedubd.pipeline.dub import keyframe_score

        mesh = main_of(confirmed, frame)
        if mesh is None:
            return
        score = float(keyframe_score(frame, mesh))
        if self.best is None or score > self.best.score:
            self.best = Keyframe(frame, mesh, index / SAMPLE_FPS, score)

    def keyframe(self) -> Keyframe:
        if self.best is None:
            raise PipelineError("No usable face was found in the reference video.")
        return self.best


def draw_character(models: Any, photo_rgb: np.ndarray) -> tuple[Any, dict[str, np.ndarray]]:
    """The character's model from the photo, and its views (not written yet)."""
    from facedubd.pipeline import dub

    character = dub.build_character(models, photo_rgb)
    return character, dub.render_views(character)


def encode_spec(info: VideoInfo, frames: int, settings: PipelineSettings, video: Path) -> Any:
    return fa.EncodeSpec(
        width=info.width,
        height=info.height,
        rate=info.rate,
        frames=frames,
        preset=settings.preset,
        crf=settings.crf,
        audio_source=video if info.has_audio else None,
        audio_codec=info.audio_codec,
        audio_duration=info.audio_duration,
        audio_start=info.audio_start,
    )


def _progress_reporter(clock: StageClock, total: int) -> Any:
    step = max(1, int(total * PROGRESS_STEP))

    def on_frame(done: int) -> None:
        if done % step == 0 or done == total:
            clock.progress(done / total)

    return on_frame


def generate_video(
    video: Path,
    info: VideoInfo,
    checked: InputCheck,
    partial: Path,
    dubber: Any,
    tracker: Any,
    settings: PipelineSettings,
    clock: StageClock,
) -> tuple[FrameStats, dict[str, float]]:
    """Decode, track and dub every frame, and encode, overlapped."""
    total = expected_frames(info, checked.duration)
    reader = FrameReader(
        fa.decode_args(video, info.decode_spec(checked.duration)), info.width, info.height
    )
    spec = encode_spec(info, total, settings, video)
    writer = FrameWriter(fa.encode_args(partial, spec), spec.width, spec.height)

    def process(frame: np.ndarray, mesh: Any) -> tuple[np.ndarray, bool]:
        return dubber.process(frame, mesh), mesh is not None

    stats = run_frames(
        reader, writer, process, _progress_reporter(clock, total), analyse=tracker.update
    )
    if stats.frames == 0:
        raise PipelineError("No frame could be decoded from the reference video.")
    per_frame = stats.per_frame()
    return stats, {key: round(value, 3) for key, value in per_frame.items()}


def _dub_steps(dubber: Any) -> dict[str, float]:
    """The dubber's own split of its time per frame, when it keeps one."""
    steps = getattr(dubber, "timings_ms", None)
    if steps is None:
        return {}
    return {f"frame_dub_{name}_ms": round(ms, 3) for name, ms in steps().items()}


@contextlib.contextmanager
def _partial_output(out_dir: Path) -> Iterator[Path]:
    """A 0600 file for ffmpeg to fill (it keeps an existing file's mode), removed on failure."""
    partial = out_dir / _PARTIAL_NAME
    write_private_file(partial, b"")
    try:
        yield partial
    finally:
        partial.unlink(missing_ok=True)


def run(
    photo: Path,
    video: Path,
    out_dir: Path,
    settings: PipelineSettings,
    on_event: EventCallback,
) -> RunResult:
    """The whole job. Raises InputError subclasses for refused inputs, PipelineError (and
    ModelError, DeviceUnavailable) otherwise."""
    clock = StageClock(on_event)
    out_dir = ensure_private_dir(Path(out_dir))
    clock.enter("preparing")
    seconds = validate_duration(settings.duration)
    with VideoProbe(Path(video), seconds) as probed:
        # The video's probe (three ffmpeg runs) and the start of its sampling decode go on
        # while the face libraries are imported, the models load and the photo is checked;
        # its refusals still come after the photo's.
        from facedubd.pipeline.face import load_face_models
        from facedubd.pipeline.face.hands import load_hand_models, photo_hands, with_hands
        from facedubd.pipeline.face.iris import load_iris_model, measure_gaze, with_gaze

        _limit_threads(settings.threads)
        models = load_face_models(settings.device, settings.threads)  # fetches what is missing
        # The video check samples the whole clip and keeps the best keyframe as it goes, so
        # the samples are decoded and searched once.
        picker = KeyframePicker()
        photo_check = check_photo(Path(photo), models)
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            # The character and its views are drawn (in memory), and the hand models load,
            # while the video is checked, which mostly waits for its samples' decode; a
            # refusal of the video still comes first, and nothing is written before the
            # inputs are accepted.
            drawn = pool.submit(draw_character, models, photo_check.rgb)
            # With the palm detector: it looks for a hand over the photo's face, once.
            hand_models = pool.submit(load_hand_models, settings.device, settings.threads, True)
            # The iris model: where the reference's eyes look, and the photo's.
            iris_model = pool.submit(load_iris_model, settings.device, settings.threads)
            video_check = check_video(Path(video), seconds, models, picker.see, probed)
    checked = InputCheck(photo=photo_check, video=video_check, duration=seconds)
    info = checked.video.info

    clock.enter("generating_views")
    from facedubd.pipeline import dub

    character, drawn_views = drawn.result()
    views = write_views(drawn_views, out_dir / VIEWS_DIR)
    # Where the photo's own hand covers its face, the dub shows the reference's face.
    character = dub.with_photo_hands(
        character, photo_hands(hand_models.result(), photo_check.rgb, dub.photo_points(character))
    )
    # The photo's irises are lifted off, to be drawn where the reference looks.
    character = dub.with_photo_gaze(
        character, measure_gaze(iris_model.result(), photo_check.rgb, dub.photo_points(character))
    )

    clock.enter("extracting_keyframe")
    key = picker.keyframe()

    clock.enter("compositing_scene")
    scene = dub.composite(
        character, key.frame, key.mesh, dub.DubState.start(character, key.mesh, info.fps)
    )
    preview = write_image(out_dir / PREVIEW_NAME, scene)
    dubber = dub.Dubber(character, key.mesh, info.fps)

    clock.enter("generating_video")
    output = out_dir / OUTPUT_NAME
    with _partial_output(out_dir) as partial:
        stats, per_frame = generate_video(
            Path(video),
            info,
            checked,
            partial,
            dubber,
            with_gaze(
                with_hands(follow_main_person(models, key.mesh), models=hand_models.result()),
                session=iris_model.result(),
                shut_below=dub.lids_shown_below(dubber.state),
            ),
            settings,
            clock,
        )
        clock.enter("encoding")
        verify_output(partial, stats.frames, info.rate, info.has_audio, (info.width, info.height))
        os.replace(partial, output)
    clock.finish()
    return RunResult(
        output=output,
        preview=preview,
        views=views,
        frames=stats.frames,
        frames_with_face=stats.frames_with_face,
        fps=float(info.rate),
        width=info.width,
        height=info.height,
        duration_s=round(float(stats.frames / Fraction(info.rate)), 6),
        provider=models.provider,
        timings_ms={**clock.timings_ms, **per_frame, **_dub_steps(dubber)},
    )


def result_json(result: RunResult) -> dict[str, Any]:
    """RunResult as plain JSON values (paths as strings)."""
    body = dataclasses.asdict(result)
    body["output"] = str(result.output)
    body["preview"] = str(result.preview)
    body["views"] = {name: str(path) for name, path in result.views.items()}
    return body
