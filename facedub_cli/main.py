"""`facedub`: the command-line client. Global options go before or after the subcommand."""

from __future__ import annotations

import os
import signal
import sys
import traceback
from types import FrameType
from typing import Annotated, Any, NoReturn

import typer
from typer._click.exceptions import NoArgsIsHelpError, UsageError  # typer==0.29 vendors click
from typer.core import TyperGroup

from facedub_cli.commands import auth, config, jobs, keys, usage
from facedub_cli.errors import FaceDubError
from facedub_cli.state import AppState

GLOBAL_FLAGS = frozenset({"--json", "--quiet", "-q"})
GLOBAL_VALUE_OPTIONS = frozenset({"--profile", "--api-url", "--socket"})


def hoist_global_options(args: list[str]) -> list[str]:
    """Move global options found after the subcommand to the front (up to a `--`)."""
    hoisted: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(args):
        token = args[index]
        if token == "--":
            rest.extend(args[index:])
            break
        name = token.split("=", 1)[0]
        if token in GLOBAL_FLAGS or (name in GLOBAL_VALUE_OPTIONS and "=" in token):
            hoisted.append(token)
        elif token in GLOBAL_VALUE_OPTIONS and index + 1 < len(args):
            hoisted.extend(args[index : index + 2])
            index += 1
        else:
            rest.append(token)
        index += 1
    return hoisted + rest


def report(error: FaceDubError) -> None:
    """One stderr line per error: `error: <code>: <sentence>`."""
    sys.stderr.write(f"error: {error.code}: {error.message}\n")


def stdout_closed() -> NoReturn:
    """The reader of our stdout went away (`| head -1`): it has what it wanted, so end
    quietly with exit 0 as `gh` does, and keep Python's exit-time flush from failing too."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(0)


def usage_failure(error: UsageError) -> NoReturn:
    """A bad command line, as one line like every other error (exit 2); `-h` still helps."""
    if isinstance(error, NoArgsIsHelpError):
        raise error
    where = f" (see `{error.ctx.command_path} -h`)" if error.ctx is not None else ""
    report(FaceDubError("usage_error", f"{error.format_message()}{where}"))
    raise typer.Exit(2) from None


class FacedubGroup(TyperGroup):
    """The root group: hoists global options and turns errors into one line and an exit code."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, hoist_global_options(args))
        except UsageError as error:
            usage_failure(error)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as error:
            usage_failure(error)
        except FaceDubError as error:
            if os.environ.get("FACEDUB_DEBUG") == "1":
                traceback.print_exc()
            hint = ctx.obj.auth_hint if isinstance(ctx.obj, AppState) else ""
            if error.code == "unauthorized" and hint:
                error = FaceDubError(error.code, f"{error.message} ({hint})", error.status)
            report(error)
            raise typer.Exit(error.exit_code) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except BrokenPipeError:
            stdout_closed()
        except OSError as error:
            if os.environ.get("FACEDUB_DEBUG") == "1":
                traceback.print_exc()
            where = f": {error.filename}" if error.filename else ""
            report(FaceDubError("io_error", f"{error.strerror or error}{where}"))
            raise typer.Exit(1) from None
        except Exception as error:
            if type(error).__module__.startswith(("typer", "click")):
                raise
            if os.environ.get("FACEDUB_DEBUG") == "1":
                traceback.print_exc()
            hint = "" if os.environ.get("FACEDUB_DEBUG") == "1" else " (FACEDUB_DEBUG=1 shows more)"
            sys.stderr.write(f"error: internal: {type(error).__name__}: {error}{hint}\n")
            raise typer.Exit(1) from None


app = typer.Typer(
    name="facedub",
    cls=FacedubGroup,
    help=(
        "Turn a character photo and a reference video into the character performing it, "
        "with the FaceDub API: hosted, or a local facedubd."
    ),
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def show_version(value: bool) -> None:
    if value:
        from facedub_cli import __version__

        typer.echo(f"facedub {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    profile: Annotated[
        str | None,
        typer.Option(
            metavar="NAME", help="Profile to use (built in: local, hosted). Env FACEDUB_PROFILE."
        ),
    ] = None,
    api_url: Annotated[
        str | None,
        typer.Option(
            "--api-url", metavar="URL", help="API base URL over TCP. Env FACEDUB_API_URL."
        ),
    ] = None,
    socket: Annotated[
        str | None,
        typer.Option(metavar="PATH", help="facedubd Unix socket. Env FACEDUB_SOCKET."),
    ] = None,
    json_output: Annotated[
        bool,
        typer.Option(
            "--json", help="Print the API's JSON body on stdout (compact, one line each)."
        ),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bars or notes.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=show_version, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Global options may come before or after the subcommand."""
    ctx.obj = AppState(
        json=json_output, quiet=quiet, profile=profile, api_url=api_url, socket=socket
    )


app.add_typer(auth.app, name="auth")
app.add_typer(config.app, name="config")
app.add_typer(jobs.app, name="jobs")
app.add_typer(keys.app, name="keys")
app.command("usage")(usage.usage)


# `kill`, `timeout`, a service manager, a closed terminal: each stops `facedub` as Ctrl-C
# does, so what Ctrl-C cleans up (a download's .part file) is cleaned up for them too.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
INTERRUPTED_EXIT = 130  # what a KeyboardInterrupt exits with (128 + SIGINT)


def stop_like_ctrl_c() -> dict[str, int]:
    """Turn STOP_SIGNALS into KeyboardInterrupt; the dict keeps the one that came."""
    stopped: dict[str, int] = {}

    def on_stop(signum: int, frame: FrameType | None) -> None:
        stopped.setdefault("signal", signum)
        raise KeyboardInterrupt

    for signum in STOP_SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:  # `nohup` asked to go on
            signal.signal(signum, on_stop)
    return stopped


def main() -> None:
    if "_FACEDUB_COMPLETE" in os.environ:
        # add_completion=False (we ship scripts) leaves Typer's shell classes unregistered.
        from typer._completion_classes import completion_init

        completion_init()
    stopped = stop_like_ctrl_c()
    try:
        app(prog_name="facedub")
    except SystemExit as leaving:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            stdout_closed()
        if "signal" in stopped and leaving.code == INTERRUPTED_EXIT:
            # 128 + the signal's number, as the shell reports a command it stopped
            raise SystemExit(128 + stopped["signal"]) from None
        raise


if __name__ == "__main__":
    main()
