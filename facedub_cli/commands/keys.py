"""`facedub keys`: API keys."""

from __future__ import annotations

import getpass
import socket
from typing import Annotated, Any

import typer

from facedub_cli.state import get_state
from facedub_cli.ui import age, note, print_fields, print_raw, print_table

app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)


def default_key_name() -> str:
    return f"facedub CLI on {socket.gethostname()} ({getpass.getuser()})"[:100]


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Argument(help="A name for the key. Default: 'facedub CLI on HOST (USER)'."),
    ] = None,
) -> None:
    """Create an API key. The key is shown once: store it then."""
    state = get_state(ctx)
    with state.client() as client:
        key = client.create_key(default_key_name() if name is None else name)
        if state.json:
            print_raw(client.last_body)
            return
    print_fields([("id", str(key.get("id"))), ("name", str(key.get("name"))), ("key", key["key"])])
    note("Store this key now (e.g. `facedub auth login --with-key-stdin`): it is not shown again.")


def _key_rows(keys: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [
            str(key.get("id")),
            str(key.get("name")),
            str(key.get("prefix")),
            age(key.get("created_at")),
            age(key.get("last_used_at")) if key.get("last_used_at") else "never",
        ]
        for key in keys
    ]


@app.command("list")
def list_keys(ctx: typer.Context) -> None:
    """List your active API keys (prefixes only)."""
    state = get_state(ctx)
    with state.client() as client:
        keys = client.list_keys()
        if state.json:
            print_raw(client.last_body)
            return
    print_table(["ID", "NAME", "PREFIX", "CREATED", "LAST USED"], _key_rows(keys))


def key_id_value(text: str) -> str:
    """A key id as typed (`jobs.checked_id`)."""
    from facedub_cli.commands.jobs import checked_id

    return checked_id(text, "key")


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    key_id: Annotated[
        str,
        typer.Argument(metavar="ID", parser=key_id_value, help="The key's id (see `keys list`)."),
    ],
) -> None:
    """Revoke an API key."""
    state = get_state(ctx)
    with state.client() as client:
        key = client.revoke_key(key_id)
        if state.json:
            print_raw(client.last_body)
            return
    if not state.quiet:
        print(f"revoked {key.get('id')} ({key.get('name')}, {key.get('prefix')})")
