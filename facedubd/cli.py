"""`facedubd`: serve the API, run one job, manage models, users and keys."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="facedubd",
    help="The FaceDub daemon: serve the REST API, run the face pipeline, manage models and users.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)


def main() -> None:
    app()
