"""Faces in the reference video: the main person is chosen at the keyframe and followed
by its track, never jumping to someone else, also when they leave and come back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from facedubd.pipeline import ffmpeg_args as fa
from facedubd.pipeline import inputs
from facedubd.pipeline.face import FaceModels, load_face_models
from facedubd.pipeline.media import FrameReader, VideoInfo, probe
from facedubd.pipeline.orchestrate import Keyframe, KeyframePicker
from tests.pipeline import variants as v
from tests.pipeline.clips import ffmpeg

Sample = Callable[[str], Path]

#: The two people's places on the 640x360 canvas: the man large on the left, the woman
#: smaller on the right; their faces are about 300 px apart.
SPLIT_X = 360


def pick_keyframe(video: Path, info: VideoInfo, duration: float, models: Any) -> Keyframe:
    """The keyframe from a pass of its own over the samples (a job picks it inside the
    video check instead): every sample searched afresh, tiles included."""
    picker = KeyframePicker()
    spec = info.decode_spec(duration)
    args = fa.sample_args(video, spec, inputs.SAMPLE_FPS)
    with FrameReader(args, info.width, info.height) as reader:
        for index, frame in enumerate(reader):
            found, _ = inputs.search_faces(models, frame, fine=True, tiles=True)
            if found:
                picker.see(index, frame, found)
    return picker.keyframe()


def main_face_mesh(models: Any, rgb: np.ndarray) -> Any | None:
    """The main person's face mesh in one frame, tiled searches included."""
    return inputs.main_of(inputs.search_faces(models, rgb, fine=True, tiles=True)[0], rgb)


def two_people(
    sample: Sample, path: Path, away: tuple[float, float] | None = None, man_x: str = "0"
) -> Path:
    """single_face.mp4 (360 px wide, left) beside WolfgangLanger (200 px, right), 1.5 s at
    30 fps; with `away`, the man's side is blanked for that interval (he leaves, returns);
    `man_x`: an ffmpeg expression of time for the man's left edge (he walks out and in)."""
    blank = (
        f",drawbox=x=0:y=0:w={SPLIT_X}:h=ih:c=gray:t=fill:enable='between(t,{away[0]},{away[1]})'"
        if away
        else ""
    )
    graph = (
        "color=c=gray:s=640x360:r=30:d=1.5[bg];"
        "[0:v]scale=360:-2,fps=30,setpts=PTS-STARTPTS[man];"
        "[1:v]scale=200:-2,fps=30,setpts=PTS-STARTPTS[woman];"
        f"[bg][man]overlay=x='{man_x}':y=79:shortest=1[a];[a][woman]overlay=400:120:shortest=1{blank}[v]"
    )
    ffmpeg(
        *("-i", str(sample("single_face.mp4")), "-ss", "2", "-i"),
        str(sample("WolfgangLanger_Pexels.mp4")),
        *("-filter_complex", graph, "-map", "[v]", "-t", "1.5", "-c:v", "libx264"),
        *("-pix_fmt", "yuv420p", str(path)),
    )
    return path


@pytest.fixture(scope="module")
def models() -> Iterator[FaceModels]:
    yield load_face_models("cpu", 1)


def test_main_face_prefers_large_and_central() -> None:
    centre_small = inputs.Box(280, 160, 360, 240)  # 80 px, in the middle
    edge_large = inputs.Box(0, 0, 100, 100)  # 100 px, in the corner: weight 0.5
    side_large = inputs.Box(440, 140, 540, 240)  # 100 px, halfway to the edge: weight 0.8
    boxes = [centre_small, edge_large, side_large]
    assert inputs.main_face_index(boxes, 640, 400) == 2
    assert inputs.main_face_index(boxes[:2], 640, 400) == 0


def test_keyframe_takes_the_main_person(tmp_path: Path, sample: Sample, models: FaceModels) -> None:
    clip = two_people(sample, tmp_path / "two.mp4")
    info = probe(clip)
    first = v.decode(clip, 0.1)[0]
    faces = inputs.find_faces(models, first)
    assert len(faces) == 2  # both people are seen
    key = pick_keyframe(clip, info, 1.5, models)
    assert key.mesh.roi.cx < SPLIT_X  # the larger man on the left


def test_track_follows_its_person_and_never_jumps(
    tmp_path: Path, sample: Sample, models: FaceModels
) -> None:
    clip = two_people(sample, tmp_path / "away.mp4", away=(0.6, 1.0))
    info = probe(clip)
    key = pick_keyframe(clip, info, 0.5, models)
    assert key.mesh.roi.cx < SPLIT_X
    tracker = inputs.follow_main_person(models, key.mesh)
    centres = [
        None if (mesh := tracker.update(frame)) is None else mesh.roi.cx
        for frame in v.decode(clip, 1.5)
    ]
    times = np.arange(len(centres)) / 30
    seen = [c for c in centres if c is not None]
    assert max(seen) < SPLIT_X  # never on the woman
    gone = [c for c, t in zip(centres, times, strict=True) if 0.64 < t < 0.98]
    assert gone and all(c is None for c in gone)  # while he is away: nobody
    back = [c for c, t in zip(centres, times, strict=True) if t > 1.1]
    assert back and all(c is not None for c in back)  # and he is picked up again
    before = [c for c, t in zip(centres, times, strict=True) if t < 0.6]
    assert all(c is not None for c in before)


def test_40_px_face_in_a_1080x1920_frame_is_found_in_place(
    sample: Sample, models: FaceModels
) -> None:
    from PIL import Image

    hopper = Image.open(sample("grace_hopper.jpg")).convert("RGB")
    face = inputs.find_faces(models, np.asarray(hopper))[0]
    scale = 40 / face.width
    small = hopper.resize((round(hopper.width * scale), round(hopper.height * scale)))
    frame = Image.open(sample("free-mountain-vector-01.jpg")).convert("RGB").resize((1080, 1920))
    frame.paste(small, (700, 1300))
    found = inputs.find_faces(models, np.asarray(frame))
    assert len(found) == 1
    expected = (700 + (face.x0 + face.x1) / 2 * scale, 1300 + (face.y0 + face.y1) / 2 * scale)
    got = ((found[0].x0 + found[0].x1) / 2, (found[0].y0 + found[0].y1) / 2)
    assert np.hypot(*np.subtract(got, expected)) < 6
    assert 30 < found[0].width < 52


def test_small_face_in_a_portrait_clip_is_checked_and_followed(
    tmp_path: Path, sample: Sample, models: FaceModels
) -> None:
    """The real clip shrunk so the face is about 40 px across, moving across a 360x640
    portrait frame (a scene photo behind it)."""
    clip = tmp_path / "far.mp4"
    ffmpeg(
        *("-loop", "1", "-i", str(sample("free-mountain-vector-01.jpg"))),
        *("-i", str(sample("single_face.mp4")), "-filter_complex"),
        "[0:v]scale=360:640,setsar=1,fps=30[bg];[1:v]scale=144:-2,fps=30[far];"
        "[bg][far]overlay=x='60+40*t':y=380:shortest=1[v]",
        *("-map", "[v]", "-t", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(clip)),
    )
    check = inputs.check_video(clip, 1, models)
    assert check.first_face_s == 0
    key = pick_keyframe(clip, check.info, 1.0, models)
    assert 25 < key.mesh.roi.size / 1.5 < 60  # the face is small
    tracker = inputs.follow_main_person(models, key.mesh)
    found = [tracker.update(frame) is not None for frame in v.decode(clip, 1.0)]
    assert sum(found) >= 0.9 * len(found), found


def test_face_walking_out_of_the_frame_and_back_is_picked_up_again(
    tmp_path: Path, sample: Sample, models: FaceModels
) -> None:
    """The man slides out through the left edge (fully out from 0.74 to 0.86 s) and back
    (in place again from 1.1 s); the woman stays."""
    walk = "if(between(t,0.5,1.1),-min(t-0.5,1.1-t)*1500,0)"
    clip = two_people(sample, tmp_path / "walk.mp4", man_x=walk)
    info = probe(clip)
    key = pick_keyframe(clip, info, 0.5, models)
    assert key.mesh.roi.cx < SPLIT_X
    tracker = inputs.follow_main_person(models, key.mesh)
    centres = [
        None if (mesh := tracker.update(frame)) is None else mesh.roi.cx
        for frame in v.decode(clip, 1.5)
    ]
    times = np.arange(len(centres)) / 30
    assert max(c for c in centres if c is not None) < SPLIT_X  # never the woman
    assert all(c is None for c, t in zip(centres, times, strict=True) if 0.76 <= t <= 0.84)
    assert all(c is not None for c, t in zip(centres, times, strict=True) if t > 1.15)


class CountingSession:
    """A real onnxruntime session that counts its runs."""

    def __init__(self, session: Any) -> None:
        self._session, self.runs = session, 0

    def run(self, output_names: Any, input_feed: Any) -> Any:
        self.runs += 1
        return self._session.run(output_names, input_feed)

    def get_inputs(self) -> Any:
        return self._session.get_inputs()


def test_a_large_face_that_leaves_is_searched_cheaply_and_found_again(
    tmp_path: Path, sample: Sample, models: FaceModels
) -> None:
    """The real clip scaled to 900 px wide, centre-cropped to 720 and padded to 720x1280 (the
    face about 300 px, a quarter of the frame's height), hidden from 0.5 to 0.9 s: while it
    is gone each search is one run of each detector over the whole frame (no tiles, no
    crop around its last place), and it is followed again two frames after it is back."""
    clip = tmp_path / "portrait.mp4"
    ffmpeg(
        *("-i", str(sample("WolfgangLanger_Pexels.mp4")), "-vf"),
        "scale=900:-2,crop=720:ih,pad=720:1280:0:(oh-ih)/2:color=gray,fps=30,"
        "drawbox=x=0:y=0:w=iw:h=ih:c=gray:t=fill:enable='between(t,0.5,0.9)'",
        *("-t", "1.5", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(clip)),
    )
    frames = v.decode(clip, 1.5)
    key = main_face_mesh(models, frames[0])
    assert key is not None and key.roi.size / 1.5 > 0.2 * 1280  # a large face
    short, full = CountingSession(models.short), CountingSession(models.full)
    counted = FaceModels(short, full, models.mesh, models.provider)
    tracker = inputs.follow_main_person(counted, key)
    found = [tracker.update(frame) is not None for frame in frames]
    times = np.arange(len(found)) / 30
    assert all(f for f, t in zip(found, times, strict=True) if t < 0.48)
    assert not any(f for f, t in zip(found, times, strict=True) if 0.52 < t < 0.88)
    back = [i for i, t in enumerate(times) if t > 0.9]
    assert all(found[back[0] + 2 :]), found
    assert tracker.detector_runs >= 8
    assert short.runs == tracker.detector_runs  # one whole-frame pass per search
    assert full.runs <= tracker.detector_runs


def test_the_video_check_picks_the_keyframe_as_it_samples(
    tmp_path: Path, sample: Sample, models: FaceModels
) -> None:
    """A job's video check hands every sample with faces to the keyframe picker: the one
    decode gives the same keyframe as a separate pass over the samples."""
    clip = two_people(sample, tmp_path / "two.mp4")
    picker = KeyframePicker()
    seen: list[int] = []

    def on_faces(index: int, frame: np.ndarray, found: list[tuple[Any, Any]]) -> None:
        seen.append(index)
        picker.see(index, frame, found)

    check = inputs.check_video(clip, 1, models, on_faces)
    assert check.first_face_s == 0 and not check.tiled
    assert seen == [0, 1]  # 1 s at 2 samples a second, both with faces
    key = picker.keyframe()
    separate = pick_keyframe(clip, check.info, 1.0, models)
    assert key.time_s == separate.time_s
    assert key.score == pytest.approx(separate.score)
    assert key.mesh.roi.cx < SPLIT_X  # the larger man on the left
