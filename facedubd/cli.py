"""`facedubd`: serve the API, run one job, manage models, users and keys."""

from __future__ import annotations

from typing import Annotated

import typer

from facedubd.commands import doctor, models, run, samples
from facedubd.commands.serve import serve
from facedubd.commands.users import keys_app, users_app

HELP = """The FaceDub daemon: serve the REST API, run the face pipeline, manage models and users.

Exit codes: 0 done, 1 failed, 2 usage or configuration error, 4 not found, 8 refused (it
conflicts with what exists), 130 stopped by Ctrl-C; each command's --help lists its own.
An error prints one line `error: <code>: <sentence>` on stderr."""

app = typer.Typer(
    name="facedubd",
    help=HELP,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,  # plain help, as facedub's: Rich's tables print flags as `<bool>`
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)


def show_version(value: bool) -> None:
    if value:
        from facedubd import __version__

        typer.echo(f"facedubd {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=show_version, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """The FaceDub daemon: serve the REST API, run the face pipeline, manage models and users."""


app.add_typer(models.app, name="models")
app.add_typer(samples.app, name="samples")
app.command("doctor")(doctor.doctor)
app.command("run")(run.run)
app.command("serve")(serve)
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")


def main() -> None:
    app()
