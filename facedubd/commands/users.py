"""`facedubd users ...` and `facedubd keys ...`: admin on the data dir's database.

A running daemon sees each change on its next request (it caches no account)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from facedubd.commands.output import INTERRUPTED_EXIT, fail, print_json, print_table
from facedubd.errors import AlreadyExists, Cancelled, FacedubError, InvalidRequest, NotFound
from facedubd.paths import DB_NAME, data_dir, ensure_private_dir
from facedubd.settings import DaemonSettings, load_settings
from facedubd.store import Store, User, open_store

PLANS = ("agency", "pro", "starter")
# One @ with something on each side and no space: what any mail system needs at least.
EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
T = TypeVar("T")

users_app = typer.Typer(
    help="Manage accounts: create, list, suspend, plans, credits.", no_args_is_help=True
)
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Data dir (env: FACEDUBD_DATA_DIR).")
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def _run(data: Path | None, action: Callable[[Store, DaemonSettings, Path], Awaitable[T]]) -> T:
    os.umask(0o077)  # a database this command creates is as private as the daemon's
    folder = ensure_private_dir(data_dir(data))

    async def go() -> T:
        store = await open_store(folder / DB_NAME)
        try:
            return await action(store, load_settings(folder), folder)
        finally:
            await store.close()

    try:
        return asyncio.run(go())
    except FacedubError as error:
        fail(error)


async def _user(store: Store, email: str) -> User:
    user = await store.user_by_email(email)
    if user is None:
        raise NotFound(f"No user with email {email}.")
    return user


def _user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "plan": user.plan,
        "credits_limit": user.credits_limit,
        "bonus_credits": user.bonus_credits,
        "overage": user.overage_enabled,
        "suspended": user.suspended,
        "local_owner": user.is_local_owner,
        "created_at": user.created_at,
    }


def _check_plan(plan: str) -> None:
    if plan not in PLANS:
        raise InvalidRequest(f"plan must be one of {', '.join(PLANS)}.")


async def _new_key(
    store: Store, folder: Path, settings: DaemonSettings, user: User, name: str
) -> str:
    from facedubd.api.routes.keys import issue_key
    from facedubd.api.security import load_secrets
    from facedubd.api.state import AppState, JobBus, Limits, Models

    state = AppState(
        store,
        settings,
        load_secrets(folder),
        folder,
        Limits.from_settings(settings),
        Models(),
        JobBus(),
    )
    _row, key = await issue_key(state, user.id, name)
    return key


MAX_CREDITS = 1_000_000_000  # far past any plan, well inside SQLite's 64-bit INTEGER


@users_app.command("create")
def create(
    email: str,
    plan: Annotated[str, typer.Option(help="agency, pro or starter.")] = "agency",
    credits_limit: Annotated[
        int | None, typer.Option(help="Monthly credits (default: setting default_credits_limit).")
    ] = None,
    as_json: JsonFlag = False,
    data: DataDir = None,
) -> None:
    """Create an account and print it with its first API key (shown once).

    Exit codes: 0 created, 1 failed, 2 usage (a bad email, plan or limit), 8 an account
    with EMAIL already exists; an error prints one line `error: <code>: <sentence>` on
    stderr."""

    async def action(store: Store, settings: DaemonSettings, folder: Path) -> tuple[User, str]:
        _check_plan(plan)
        if not EMAIL.fullmatch(email):
            raise InvalidRequest(f"{email!r} is not an email address.")
        existing = await store.user_by_email(email)
        if existing is not None:
            raise AlreadyExists(f"A user with the email {existing.email} already exists.")
        limit = settings.default_credits_limit if credits_limit is None else credits_limit
        if not 0 <= limit <= MAX_CREDITS:
            raise InvalidRequest(f"--credits-limit must be a whole number from 0 to {MAX_CREDITS}.")
        user = await store.create_user(email, plan, limit)
        return user, await _new_key(store, folder, settings, user, "default")

    user, key = _run(data, action)
    if as_json:
        print_json({"id": user.id, "email": user.email, "plan": user.plan, "api_key": key})
    else:
        print(f"created {user.email} ({user.id}), plan {user.plan}, {user.credits_limit} credits")
        print(f"API key (shown once): {key}")


@users_app.command("list")
def list_users(as_json: JsonFlag = False, data: DataDir = None) -> None:
    """List every account: USED is this month's credits, CREDITS the monthly limit + bonus.

    Exit codes: 0 listed, 1 failed, 2 usage; an error prints one line
    `error: <code>: <sentence>` on stderr."""
    from facedubd.api.routes.jobs import month_start

    async def action(store: Store, _s: DaemonSettings, _f: Path) -> list[tuple[User, int]]:
        since = month_start(int(time.time()))  # as GET /usage counts
        return [(u, await store.credits_used(u.id, since)) for u in await store.list_users()]

    users = _run(data, action)
    if as_json:
        print_json([{**_user_json(u), "credits_used": used} for u, used in users])
        return
    rows = []
    for u, used in users:
        flags = ["suspended"] if u.suspended else []
        flags += [] if u.overage_enabled else ["no-overage"]
        credits = f"{u.credits_limit}+{u.bonus_credits}"
        rows.append((str(u.id), u.email, u.plan, str(used), credits, " ".join(flags)))
    print_table(("ID", "EMAIL", "PLAN", "USED", "CREDITS", "FLAGS"), rows)


def _update(data: Path | None, email: str, field: str, value: int | str) -> None:
    async def action(store: Store, _s: DaemonSettings, _f: Path) -> None:
        user = await _user(store, email)
        await store.update_user(user.id, field, value)

    _run(data, action)


@users_app.command("suspend")
def suspend(email: str, data: DataDir = None) -> None:
    """Suspend an account: its requests get 403 account_suspended.

    Exit codes: 0 done, 1 failed, 2 usage, 4 no user with EMAIL; an error prints one
    line `error: <code>: <sentence>` on stderr."""
    _update(data, email, "suspended", 1)
    print(f"suspended {email}")


@users_app.command("resume")
def resume(email: str, data: DataDir = None) -> None:
    """Lift a suspension.

    Exit codes: 0 done, 1 failed, 2 usage, 4 no user with EMAIL; an error prints one
    line `error: <code>: <sentence>` on stderr."""
    _update(data, email, "suspended", 0)
    print(f"resumed {email}")


@users_app.command("set-plan")
def set_plan(email: str, plan: str, data: DataDir = None) -> None:
    """Change an account's plan (agency, pro, starter; only agency has API access).

    Exit codes: 0 done, 1 failed, 2 usage, 4 no user with EMAIL; an error prints one
    line `error: <code>: <sentence>` on stderr."""
    try:
        _check_plan(plan)
    except InvalidRequest as error:
        fail(error)
    _update(data, email, "plan", plan)
    print(f"{email} is now on plan {plan}")


@users_app.command("set-overage")
def set_overage(
    email: str, state: Annotated[str, typer.Argument(help="on or off")], data: DataDir = None
) -> None:
    """Allow (on) or refuse (off, 403 credits_exhausted) jobs past the monthly credits.

    Exit codes: 0 done, 1 failed, 2 usage, 4 no user with EMAIL; an error prints one
    line `error: <code>: <sentence>` on stderr."""
    if state not in ("on", "off"):
        fail(InvalidRequest(f"STATE must be on or off, not {state!r}."))
    _update(data, email, "overage_enabled", int(state == "on"))
    print(f"overage {state} for {email}")


@users_app.command("grant")
def grant(email: str, credits: int, data: DataDir = None) -> None:
    """Add bonus credits to an account.

    Exit codes: 0 done, 1 failed, 2 usage, 4 no user with EMAIL; an error prints one
    line `error: <code>: <sentence>` on stderr."""
    if not 0 < credits <= MAX_CREDITS:
        fail(InvalidRequest(f"CREDITS must be a whole number from 1 to {MAX_CREDITS}."))
    _update(data, email, "bonus_credits", credits)
    print(f"granted {credits} bonus credits to {email}")


@users_app.command("purge")
def purge(
    email: str,
    yes: Annotated[
        bool,
        typer.Option("--yes", help="Purge without asking (needed when stdin is not a terminal)."),
    ] = False,
    data: DataDir = None,
) -> None:
    """Delete an account with its keys, jobs and files; its ledger rows are kept.

    It asks you to type EMAIL first; --yes skips that (without a terminal it is required).

    Exit codes: 0 purged, 1 failed or not confirmed, 2 usage (no --yes without a terminal,
    the local owner account), 4 no user with EMAIL, 130 stopped by Ctrl-C; an error prints
    one line `error: <code>: <sentence>` on stderr."""

    async def look(store: Store, _s: DaemonSettings, _f: Path) -> tuple[int, int]:
        user = await _user(store, email)
        if user.is_local_owner:
            raise InvalidRequest("The local owner account cannot be purged.")
        jobs = await store.list_jobs(user.id, 1_000_000, None)
        return len(await store.active_keys(user.id)), len(jobs)

    keys, jobs = _run(data, look)
    if not yes:
        _confirm_purge(email, keys, jobs)

    async def action(store: Store, _s: DaemonSettings, folder: Path) -> int:
        user = await _user(store, email)
        jobs = await store.list_jobs(user.id, 1_000_000, None)
        for job in jobs:
            shutil.rmtree(folder / "jobs" / job.id, ignore_errors=True)
        await store.delete_user(user.id)
        return len(jobs)

    count = _run(data, action)
    print(f"purged {email} and {count} job(s)")


def _confirm_purge(email: str, keys: int, jobs: int) -> None:
    """Ask for EMAIL typed back, as `gh repo delete` asks for the repository's name; the
    questions go to stderr, so stdout stays the command's result."""
    if not sys.stdin.isatty():
        fail(
            InvalidRequest(
                f"users purge deletes {email} for good and stdin is not a terminal to ask "
                "on: pass --yes to purge without asking."
            )
        )
    sys.stderr.write(
        f"This deletes {email} for good: the account, its {keys} active API key(s), "
        f"{jobs} job(s) and their files (its ledger rows are kept).\n"
        f"Type {email} to confirm: "
    )
    sys.stderr.flush()
    try:
        answer = sys.stdin.readline()
    except KeyboardInterrupt:
        sys.stderr.write("\nerror: cancelled: Nothing was purged.\n")
        raise typer.Exit(INTERRUPTED_EXIT) from None
    if answer.strip() != email:
        fail(Cancelled(f"Nothing was purged: the answer was not {email}."))


@keys_app.command("create")
def create_key(
    name: str,
    user: Annotated[str, typer.Option("--user", help="The account's email.")],
    as_json: JsonFlag = False,
    data: DataDir = None,
) -> None:
    """Create an API key for an account and print it (shown once).

    Exit codes: 0 created, 1 failed, 2 usage (a bad NAME), 4 no user with that email, 8
    the account has the most active keys allowed (setting max_active_keys); an error
    prints one line `error: <code>: <sentence>` on stderr."""

    async def action(store: Store, settings: DaemonSettings, folder: Path) -> str:
        if not 1 <= len(name) <= 100:
            raise InvalidRequest("NAME must be 1 to 100 characters.")
        return await _new_key(store, folder, settings, await _user(store, user), name)

    key = _run(data, action)
    if as_json:
        print_json({"key": key, "name": name})
    else:
        print(key)


def _key_json(key: Any, when: str) -> dict[str, Any]:
    """A key as GET /api-keys shows it (never the key itself), with its `when` field
    (`last_used_at` or `revoked_at`)."""
    fields = ("id", "name", "prefix", "created_at", when)
    return {name: getattr(key, name) for name in fields}


def _when(stamp: int | None) -> str:
    return "-" if stamp is None else time.strftime("%Y-%m-%d %H:%M", time.gmtime(stamp))


@keys_app.command("list")
def list_keys(
    user: Annotated[str, typer.Option("--user", help="The account's email.")],
    as_json: JsonFlag = False,
    data: DataDir = None,
) -> None:
    """List an account's active API keys: id, name, prefix, created and last used (UTC);
    the key itself was shown once, when it was made.

    Exit codes: 0 listed, 1 failed, 2 usage, 4 no user with that email; an error prints
    one line `error: <code>: <sentence>` on stderr."""

    async def action(store: Store, _s: DaemonSettings, _f: Path) -> list[Any]:
        return list(await store.active_keys((await _user(store, user)).id))

    keys = _run(data, action)
    if as_json:
        print_json([_key_json(k, "last_used_at") for k in keys])
        return
    rows = [(k.id, k.name, k.prefix, _when(k.created_at), _when(k.last_used_at)) for k in keys]
    print_table(("ID", "NAME", "PREFIX", "CREATED", "LAST USED"), rows)


@keys_app.command("revoke")
def revoke_key(
    key_id: Annotated[str, typer.Argument(metavar="KEY_ID", help="The key's id (keys list).")],
    user: Annotated[str, typer.Option("--user", help="The account's email.")],
    as_json: JsonFlag = False,
    data: DataDir = None,
) -> None:
    """Revoke one of an account's API keys (a leaked one): a running daemon refuses it
    from its next request on.

    Exit codes: 0 revoked, 1 failed, 2 usage, 4 no user with that email or no such
    active key of theirs; an error prints one line `error: <code>: <sentence>` on
    stderr."""

    from facedubd.api.security import KEY_PREFIX

    if key_id.startswith(KEY_PREFIX):  # the key itself: never echoed (it is a secret)
        fail(InvalidRequest("KEY_ID is the key's id from `facedubd keys list`, not the key."))

    async def action(store: Store, _s: DaemonSettings, _f: Path) -> Any:
        owner = await _user(store, user)
        row = await store.revoke_key(owner.id, key_id, int(time.time()))
        if row is None or row.revoked_at is None:
            raise NotFound(f"{user} has no active API key {key_id}.")
        return row

    row = _run(data, action)
    if as_json:
        print_json(_key_json(row, "revoked_at"))
    else:
        print(f"revoked {row.id} ({row.name}, {row.prefix}...) of {user}")
