"""Generated files are current, completion works in bash, and `facedub --help` stays light."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from facedub_cli import gen_completions, gen_reference

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


@pytest.mark.parametrize("shell", gen_completions.SHELLS)
def test_committed_completion_scripts_are_current(shell: str) -> None:
    committed = (ROOT / "completions" / f"facedub.{shell}").read_text()
    assert committed == gen_completions.render(shell), "run `make completions`"


def _bash_complete(words: list[str]) -> list[str]:
    script = (
        f"source {ROOT / 'completions' / 'facedub.bash'}\n"
        "complete -p facedub\n"
        f"COMP_WORDS=({' '.join(words)}); COMP_CWORD={len(words) - 1}\n"
        "_facedub_completion facedub\n"
        'printf "reply:%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    lines = done.stdout.splitlines()
    assert lines[0] == "complete -o default -F _facedub_completion facedub"
    return [line.removeprefix("reply:") for line in lines[1:] if line.startswith("reply:")]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_commands_and_subcommands() -> None:
    assert _bash_complete(["facedub", "jo"]) == ["jobs"]
    assert set(_bash_complete(["facedub", "jobs", "c"])) == {"create", "cancel"}
    assert _bash_complete(["facedub", "jobs", "create", "--wa"]) == ["--wait"]


def test_readme_reference_is_current() -> None:
    readme = (ROOT / "README.md").read_text()
    assert gen_reference.BEGIN in readme
    assert readme == gen_reference.splice(readme, gen_reference.render_reference()), (
        "run `make docs`"
    )
    assert "### `facedub jobs create`" in readme


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "Usage: facedub"),
        (
            {"_FACEDUB_COMPLETE": "complete_bash", "COMP_WORDS": "facedub jo", "COMP_CWORD": "1"},
            "jobs",
        ),
    ],
    ids=["help", "completion"],
)
def test_help_and_completion_load_no_heavy_modules(env: dict[str, str], expected: str) -> None:
    probe = (
        "import json, sys\n"
        "sys.argv = ['facedub', '--help']\n"
        "from facedub_cli.main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**os.environ, **env},
    )
    assert done.stdout.startswith(expected)
    loaded = set(json.loads(done.stderr))
    top_level = {name.split(".")[0] for name in loaded}
    for banned in ("facedubd", "numpy", "cv2", "onnxruntime", "rich", "httpx", "keyring"):
        assert banned not in top_level, f"`facedub` ({expected}) imported {banned}"
    assert "facedub_cli.main" in loaded


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_paths_for_file_arguments(tmp_path: Path) -> None:
    """PHOTO, VIDEO and -o take paths: the script's `--no-files` holds only while
    `facedub` offers words of its own (commands, options), so fish lists files there."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "photo.jpg").touch()
    (tmp_path / "sub" / "clip.mp4").touch()
    lines = [
        "facedub jobs create ph",
        "facedub jobs create photo.jpg sub/",
        "facedub jobs create photo.jpg sub/clip.mp4 -o su",
        "facedub jobs download 0123456789ab --output=sub/c",
        "facedub jobs c",
        "facedub jobs create --wa",
    ]
    script = f"source {ROOT / 'completions' / 'facedub.fish'}\n" + "".join(
        f"echo '== {line}'; complete -C'{line}'\n" for line in lines
    )
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    env["HOME"] = env["XDG_CONFIG_HOME"] = env["XDG_DATA_HOME"] = str(tmp_path / "home")
    done = subprocess.run(
        ["fish", "--no-config", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
        timeout=60,
    )
    offered: dict[str, list[str]] = {}
    for line in done.stdout.splitlines():
        if line.startswith("== "):
            current = offered.setdefault(line[3:], [])
        else:
            current.append(line.split("\t")[0])
    assert offered == {
        lines[0]: ["photo.jpg"],
        lines[1]: ["sub/clip.mp4"],
        lines[2]: ["sub/"],
        lines[3]: ["--output=sub/clip.mp4"],
        lines[4]: ["cancel", "create"],
        lines[5]: ["--wait"],
    }


def test_zsh_and_bash_hand_file_arguments_to_the_shell() -> None:
    """For a path argument `facedub` offers nothing of its own: zsh is told `_files`, and
    bash gets an empty reply, so its `-o default` lists files."""
    env = {**os.environ, "_FACEDUB_COMPLETE": "complete_zsh"}
    for words in ("facedub jobs create ph", "facedub jobs create a.jpg b.mp4 -o x"):
        done = subprocess.run(
            [str(VENV_BIN / "facedub")],
            capture_output=True,
            text=True,
            env={**env, "_TYPER_COMPLETE_ARGS": words},
            timeout=60,
        )
        assert done.stdout.strip() == "_files", words
    if shutil.which("bash") is None:
        return
    script = (
        f"source {ROOT / 'completions' / 'facedub.bash'}\n"
        "COMP_WORDS=(facedub jobs create ph); COMP_CWORD=3; _facedub_completion facedub\n"
        'echo "${#COMPREPLY[@]}"\n'
        "COMP_WORDS=(facedub jobs create a b -o x); COMP_CWORD=6; _facedub_completion facedub\n"
        'echo "${#COMPREPLY[@]}"\n'
    )
    path = {"PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, **path},
        check=True,
        timeout=60,
    )
    assert done.stdout.split() == ["0", "0"]
