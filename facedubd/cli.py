"""`facedubd`: serve the API, run one job, manage models, users and keys."""

from __future__ import annotations

import os
import sys
from enum import Enum
from typing import Annotated, Any, NoReturn

import typer
from typer._click.exceptions import (  # typer==0.29 vendors click
    BadParameter,
    NoArgsIsHelpError,
    UsageError,
)
from typer.core import TyperGroup

from facedubd.commands import doctor, models, run, samples
from facedubd.commands.output import USAGE_EXIT
from facedubd.commands.serve import serve
from facedubd.commands.users import keys_app, users_app

_WHOLE_NUMBER = frozenset({"int_parsing", "int_from_float", "int_type"})
_NUMBER = frozenset({"float_parsing", "float_type"})


def _param_name(param: Any) -> str:
    """How --help names the parameter: its long option, or the argument in capitals."""
    opts = [opt for opt in getattr(param, "opts", []) if opt.startswith("-")]
    if opts:
        return max(opts, key=len)
    return str(param.name or "value").upper()


def _choices(param: Any) -> list[str]:
    descriptor = getattr(param, "type_descriptor", None)
    found = getattr(descriptor, "choices", None) or ()
    return [str(c.value) if isinstance(c, Enum) else str(c) for c in found]


def _one_of(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def usage_sentence(error: UsageError) -> str:
    """A bad command line as a sentence (`--device must be auto, cpu or cuda, not 'tpu'.`),
    not the parser's validation wording (`Value error, 'tpu' is not one of ...`)."""
    cause = error.__cause__
    param = getattr(error, "param", None)
    details = getattr(cause, "errors", None)
    if isinstance(error, BadParameter) and param is not None and callable(details):
        first: dict[str, Any] = (details() or [{}])[0]
        name, value, kind = _param_name(param), first.get("input"), first.get("type")
        if kind in _WHOLE_NUMBER:
            return f"{name} must be a whole number, not {value!r}."
        if kind in _NUMBER:
            return f"{name} must be a number, not {value!r}."
        if _choices(param):
            return f"{name} must be {_one_of(_choices(param))}, not {value!r}."
        detail = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
        return f"{name}: {detail}"
    return " ".join(error.format_message().split())  # a one-line message, whatever it said


def usage_failure(error: UsageError) -> NoReturn:
    """One stderr line `error: invalid_request: <sentence> (see `<command> -h`)`, exit 2."""
    if isinstance(error, NoArgsIsHelpError):
        raise error
    where = f" (see `{error.ctx.command_path} -h`)" if error.ctx is not None else ""
    sys.stderr.write(f"error: invalid_request: {usage_sentence(error)}{where}\n")
    raise typer.Exit(USAGE_EXIT) from None


class FacedubdGroup(TyperGroup):
    """The root group: a bad command line, at any depth, is one error line and exit 2."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except UsageError as error:
            usage_failure(error)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as error:
            usage_failure(error)
        except OSError as error:  # a folder or file the command needs cannot be used
            if os.environ.get("FACEDUB_DEBUG") == "1":  # as `facedubd run`
                raise
            where = f": {error.filename}" if error.filename else ""
            sys.stderr.write(f"error: io_error: {error.strerror or error}{where}\n")
            raise typer.Exit(1) from None


HELP = """The FaceDub daemon: serve the REST API, run the face pipeline, manage models and users.

Exit codes: 0 done, 1 failed, 2 usage or configuration error, 4 not found, 8 refused (it
conflicts with what exists), 130 stopped by Ctrl-C; each command's --help lists its own.
An error prints one line `error: <code>: <sentence>` on stderr."""

app = typer.Typer(
    name="facedubd",
    cls=FacedubdGroup,
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
