"""`facedub config`: profiles and where the CLI sends its requests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facedub_cli import config as settings
from facedub_cli.errors import FaceDubError
from facedub_cli.state import get_state
from facedub_cli.ui import print_fields, print_json

app = typer.Typer(help="Show and change the CLI's settings (profiles).", no_args_is_help=True)


@app.command("show")
def show(ctx: typer.Context) -> None:
    """Show the active profile, where requests go, and every profile."""
    state = get_state(ctx)
    loaded = settings.load_config()
    profiles = settings.all_profiles(loaded)
    active = settings.resolve_profile(state.profile, loaded)
    if active not in profiles:
        _show_unknown(active, profiles, state.json)
        return
    target = state.target()
    if state.json:
        body = {
            "profile": target.profile,
            "profile_known": True,
            "api_url": target.api_url,
            "socket": str(target.socket) if target.socket else None,
            "source": target.source,
            "config_file": str(settings.config_path()),
            "profiles": profiles,
        }
        print_json(body)
        return
    print_fields(
        [
            ("profile", target.profile),
            ("target", f"{target.describe()} (from {target.source})"),
            ("config file", str(settings.config_path())),
        ]
    )
    for name, table in sorted(profiles.items()):
        values = ", ".join(f"{key}={value}" for key, value in sorted(table.items()))
        marker = "*" if name == target.profile else " "
        print(f"{marker} {name}: {values}")


def _show_unknown(active: str, profiles: dict[str, dict[str, str]], as_json: bool) -> None:
    """`config show` when the chosen profile does not exist: say so, and show the rest."""
    if as_json:
        body = {
            "profile": active,
            "profile_known": False,
            "api_url": None,
            "socket": None,
            "source": None,
            "config_file": str(settings.config_path()),
            "profiles": profiles,
        }
        print_json(body)
        return
    print_fields(
        [
            ("profile", f"{active} (unknown: no profile has that name)"),
            ("target", "none: choose a profile with `facedub config use NAME` or --profile"),
            ("config file", str(settings.config_path())),
        ]
    )
    for name, table in sorted(profiles.items()):
        values = ", ".join(f"{key}={value}" for key, value in sorted(table.items()))
        print(f"  {name}: {values}")


@app.command("set")
def set_value(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="api_url or socket.")],
    value: Annotated[str, typer.Argument(help="The new value.")],
) -> None:
    """Set KEY of the active profile (choose another with --profile; a new name makes one)."""
    if key not in settings.PROFILE_KEYS:
        raise FaceDubError("usage_error", f"unknown key {key!r}: use api_url or socket")
    if key == "api_url" and not settings.is_http_url(value):
        raise FaceDubError(
            "usage_error", f"api_url must be an http:// or https:// URL, not {value!r}"
        )
    if key == "socket":  # the file the user means now, wherever facedub runs later
        value = str(Path(value).expanduser().absolute())
    state = get_state(ctx)
    loaded = settings.load_config()
    profile = settings.resolve_profile(state.profile, loaded)
    table = loaded.setdefault("profiles", {}).setdefault(profile, {})
    # A profile names one server: a URL or a socket, never both.
    table.pop("socket" if key == "api_url" else "api_url", None)
    table[key] = value
    path = settings.save_config(loaded)
    if not state.quiet:
        print(f"{profile}.{key} = {value} (saved to {path})")


@app.command("use")
def use(
    ctx: typer.Context,
    profile: Annotated[str, typer.Argument(help="Profile to make the default.")],
) -> None:
    """Make PROFILE the default."""
    loaded = settings.load_config()
    known = settings.all_profiles(loaded)
    if profile not in known:
        names = ", ".join(sorted(known))
        raise FaceDubError("usage_error", f"no profile named {profile!r} (known: {names})")
    loaded["profile"] = profile
    settings.save_config(loaded)
    if not get_state(ctx).quiet:
        print(f"now using profile {profile}")


@app.command("path")
def path() -> None:
    """Print the config file's path."""
    print(settings.config_path())
