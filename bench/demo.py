"""`python -m bench.demo [--quick]`: the main job on real input, the user's way.

Starts `facedubd serve` on a private data dir and socket, runs
`facedub jobs create astronaut.png WolfgangLanger_Pexels.mp4 --duration 5 --wait -o ...`
(2 s with --quick), stops the daemon, and prints where the video is with a one-line
ffprobe summary."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from facedubd.samples import sample_path

PHOTO = "astronaut.png"
VIDEO = "WolfgangLanger_Pexels.mp4"
OUT_DIR = Path("out") / "demo"
BIN = Path(sys.executable).parent


def ffprobe_line(path: Path) -> str:
    """codec, pixel format, size, rate and length of each stream, on one line."""
    entries = "stream=codec_type,codec_name,pix_fmt,width,height,r_frame_rate,duration"
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", entries, "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    streams = [",".join(v for v in line.split(",") if v) for line in done.stdout.splitlines()]
    return " | ".join(streams)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_socket(path: Path, daemon: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise RuntimeError(f"facedubd exited with {daemon.returncode}")
        with socket.socket(socket.AF_UNIX) as probe:
            try:
                probe.connect(str(path))
                return
            except OSError:
                time.sleep(0.2)
    raise RuntimeError(f"facedubd did not listen on {path} within {timeout:.0f} s")


def stop(daemon: subprocess.Popen[bytes]) -> None:
    if daemon.poll() is None:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=90)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()


def download_views(sock: Path, output: Path, env: dict[str, str]) -> int:
    """`facedub jobs download --views` of the newest job, as a user fetches the views."""
    facedub = [str(BIN / "facedub"), "--socket", str(sock)]
    listed = subprocess.run(
        [*facedub, "--json", "jobs", "list", "--limit", "1"],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    job_id = json.loads(listed.stdout)[0]["id"]
    print(f"$ facedub jobs download {job_id} --views -o {output}")
    download = [*facedub, "--quiet", "jobs", "download", job_id, "--views", "-o", str(output)]
    return subprocess.run(download, env=env, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.demo", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2 s instead of 5 s")
    args = parser.parse_args(argv)
    seconds = 2 if args.quick else 5
    photo, video = sample_path(PHOTO), sample_path(VIDEO)
    output = (OUT_DIR / "output.mp4").resolve()
    with tempfile.TemporaryDirectory(prefix="facedub-demo-") as private:
        data_dir = Path(private) / "data"
        sock = Path(private) / "facedubd.sock"
        env = {**os.environ, "FACEDUBD_DATA_DIR": str(data_dir)}
        serve = [str(BIN / "facedubd"), "serve", "--socket", str(sock), "--port", str(free_port())]
        print(f"$ {' '.join(serve)}", flush=True)
        daemon = subprocess.Popen(serve, env=env)
        try:
            wait_for_socket(sock, daemon)
            create = [
                str(BIN / "facedub"), "--socket", str(sock), "jobs", "create", str(photo),
                str(video), "--duration", str(seconds), "--wait", "-o", str(output),
            ]  # fmt: skip
            print(f"$ facedub jobs create {PHOTO} {VIDEO} --duration {seconds} --wait -o {output}")
            code = subprocess.run(create, env=env, check=False).returncode
            if code == 0:
                code = download_views(sock, output, env)
        finally:
            stop(daemon)
    if code != 0:
        print(f"demo failed: facedub exited {code}", file=sys.stderr)
        return code
    views = output.with_name(f"{output.stem}_views")
    print(f"video:   {output}")
    print(f"ffprobe: {ffprobe_line(output)}")
    print(f"views:   {views}/ ({', '.join(sorted(p.name for p in views.rglob('*.*')))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
