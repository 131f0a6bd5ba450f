"""`facedubd`: serve the API, run one job, manage models, users and keys."""

from __future__ import annotations

import typer

from facedubd.commands import doctor, models, run, samples
from facedubd.commands.serve import serve
from facedubd.commands.users import keys_app, users_app

app = typer.Typer(
    name="facedubd",
    help="The FaceDub daemon: serve the REST API, run the face pipeline, manage models and users.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

app.add_typer(models.app, name="models")
app.add_typer(samples.app, name="samples")
app.command("doctor")(doctor.doctor)
app.command("run")(run.run)
app.command("serve")(serve)
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")


def main() -> None:
    app()
