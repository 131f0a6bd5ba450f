"""`facedub auth`: keep an API key for a profile (OS keyring, else a 0600 file)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from facedub_cli.errors import FaceDubError
from facedub_cli.state import get_state
from facedub_cli.ui import note, print_fields, print_raw

app = typer.Typer(help="Log in with an API key, show the login, log out.", no_args_is_help=True)


def _read_key(from_stdin: bool) -> str:
    """The key from stdin, else asked for on the terminal (not echoed). Without a terminal
    there is nobody to ask, as `gh auth login` says; Ctrl-C at the question exits 130."""
    if from_stdin:
        key = sys.stdin.readline().strip()
    elif not sys.stdin.isatty():
        raise FaceDubError(
            "usage_error",
            "stdin is not a terminal to ask for the key on: pipe the key in with "
            "`facedub auth login --with-key-stdin`",
        )
    else:
        key = _ask_key()
    if not key:
        raise FaceDubError("usage_error", "no API key given")
    return key


def _ask_key() -> str:
    import getpass

    try:
        return getpass.getpass("API key (fdb_...): ", stream=sys.stderr).strip()
    except EOFError:  # Ctrl-D
        sys.stderr.write("\n")
        return ""
    except KeyboardInterrupt:
        sys.stderr.write("\nerror: cancelled: no key was stored\n")
        raise typer.Exit(130) from None


def _key_hint(key: str) -> str:
    return key[:12] + "…"


@app.command("login")
def login(
    ctx: typer.Context,
    with_key_stdin: Annotated[
        bool, typer.Option("--with-key-stdin", help="Read the key from stdin, not a prompt.")
    ] = False,
) -> None:
    """Check an API key with GET /usage, then store it for the profile."""
    from facedub_cli.credentials import save_key

    state = get_state(ctx)
    key = _read_key(with_key_stdin)
    target = state.target()
    state.auth_hint = f"{target.describe()} refused that key; nothing was stored"
    with state.client(api_key=key) as client:
        body = client.usage()
        raw = client.last_body
    where, warning = save_key(target.profile, key)
    if warning:
        note(f"warning: {warning}")
    if target.socket is not None and not state.quiet:
        note("note: over the local socket no key is needed; it is sent only over TCP")
    if state.json:
        print_raw(raw)
        return
    if not state.quiet:
        print(
            f"Logged in to {target.describe()} (profile {target.profile}, plan "
            f"{body.get('plan')}); key {_key_hint(key)} stored in {where}."
        )


@app.command("status")
def status(ctx: typer.Context) -> None:
    """Show the profile, the server, the stored key, and check the key with GET /usage."""
    from facedub_cli.credentials import load_key

    state = get_state(ctx)
    target = state.target()
    stored = load_key(target.profile)
    with state.client() as client:
        body = client.usage()
        if state.json:
            print_raw(client.last_body)
            return
    print_fields(
        [
            ("profile", target.profile),
            ("target", target.describe()),
            ("key", f"{_key_hint(stored.key)} (from {stored.where})" if stored else "none"),
            ("plan", str(body.get("plan"))),
        ]
    )


@app.command("logout")
def logout(ctx: typer.Context) -> None:
    """Forget the stored key of the profile."""
    from facedub_cli.credentials import delete_key

    state = get_state(ctx)
    profile = state.target().profile
    removed = delete_key(profile)
    if not state.quiet and not state.json:
        print(f"Logged out of profile {profile}." if removed else f"No key stored for {profile}.")
