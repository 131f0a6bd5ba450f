"""What every command shares: the global options and a client built from them."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer

from facedub_cli.config import Target, resolve_target

if TYPE_CHECKING:
    from facedub_cli.client import FaceDubClient


@dataclass
class AppState:
    json: bool = False
    quiet: bool = False
    profile: str | None = None
    api_url: str | None = None
    socket: str | None = None
    # What to tell a person when the server answers 401 (set by `client()`).
    auth_hint: str = ""

    @property
    def show_progress(self) -> bool:
        """Bars only for a person at a terminal: never with --json/--quiet or a piped stderr."""
        return not (self.json or self.quiet) and sys.stderr.isatty()

    def target(self) -> Target:
        return resolve_target(
            profile_flag=self.profile, api_url_flag=self.api_url, socket_flag=self.socket
        )

    def client(self, api_key: str | None = None) -> FaceDubClient:
        """A client for the resolved target; over TCP the stored key (if any) is sent."""
        from facedub_cli.client import FaceDubClient
        from facedub_cli.credentials import load_key
        from facedub_cli.ui import note

        target = self.target()
        if api_key is None and target.socket is not None:
            # The socket authenticates the daemon's own OS user: only an explicit key is sent.
            api_key = os.environ.get("FACEDUB_API_KEY") or None
        elif api_key is None:
            stored = load_key(target.profile)
            api_key = stored.key if stored else None
            self.auth_hint = unauthorized_hint(target.profile, stored.where if stored else None)
        quiet = self.quiet
        return FaceDubClient(
            target.api_url,
            socket=target.socket,
            api_key=api_key,
            max_retries=retries_setting(),
            on_retry=None if quiet else (lambda message: note(f"note: {message}")),
        )


def unauthorized_hint(profile: str, source: str | None) -> str:
    """What to do when the server refuses the key `source` gave (None: no key at all)."""
    login = f"`facedub --profile {profile} auth login`"
    if source is None:
        return f"no API key for profile {profile}: run {login} or set FACEDUB_API_KEY"
    if source == "env":
        return "the key in FACEDUB_API_KEY was refused"
    return f"the key stored for profile {profile} was refused: run {login}"


def retries_setting() -> int:
    """How often a rate_limited / models_loading answer is retried: FACEDUB_RETRIES, else 3.

    Anything but a whole number, 0 or more, is refused (usage_error, exit 2)."""
    from facedub_cli.errors import FaceDubError

    raw = os.environ.get("FACEDUB_RETRIES", "").strip()
    if not raw:
        return 3
    if not (raw.isascii() and raw.isdigit()):
        raise FaceDubError(
            "usage_error", f"FACEDUB_RETRIES must be a whole number, 0 or more, not {raw!r}"
        )
    return int(raw)


def get_state(ctx: typer.Context) -> AppState:
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):
        root.obj = AppState()
    return root.obj
