"""Who is asking: an API key over TCP, the local owner over the socket, or a stream token.

Every request reads the user afresh, so admin changes apply on the very next request."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable

from fastapi import Request, Response

from facedubd.api.security import hash_key, looks_like_key
from facedubd.api.state import AppState
from facedubd.errors import AccountSuspended, PlanNoApi, RateLimited, Unauthorized
from facedubd.store import User

API_PLANS = frozenset({"agency"})
PEER_UID_KEY = "facedubd.peer_uid"


@dataclasses.dataclass(frozen=True)
class Principal:
    user: User
    key_id: str | None


def state_of(request: Request) -> AppState:
    state: AppState = request.app.state.facedubd
    return state


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unix"


def check_account(user: User) -> None:
    if user.suspended:
        raise AccountSuspended()
    if user.plan not in API_PLANS:
        raise PlanNoApi(f"The {user.plan} plan has no API access; the Agency plan does.")


async def _from_key(state: AppState, header: str) -> Principal | None:
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not looks_like_key(value):
        return None
    key = await state.store.key_by_hash(hash_key(state.secrets.api_key_hmac, value))
    if key is None or key.revoked_at is not None:
        return None
    user = await state.store.user_by_id(key.user_id)
    if user is None:
        return None
    now = int(time.time())
    if key.last_used_at != now:
        await state.store.touch_key(key.id, now)
    return Principal(user, key.id)


async def authenticate(request: Request) -> Principal:
    """The caller, or Unauthorized; failed attempts are limited per client address."""
    state = state_of(request)
    header = request.headers.get("authorization")
    if header is None and request.scope.get(PEER_UID_KEY) == state.owner_uid >= 0:
        owner = await state.store.local_owner()
        if owner is not None:
            return Principal(owner, None)
    address = client_address(request)
    failures = state.limits.auth_failures
    now = time.monotonic()
    retry = failures.blocked(address, now)
    if retry:
        raise RateLimited("Too many failed authentication attempts from this address.", retry)
    principal = await _from_key(state, header) if header else None
    if principal is None:
        failures.record(address, now)
        raise Unauthorized()
    return principal


def require(bucket: str) -> Callable[[Request, Response], Awaitable[Principal]]:
    """A dependency: authenticate, check the account, count one hit in `bucket`."""

    async def dependency(request: Request, response: Response) -> Principal:
        principal = await authenticate(request)
        check_account(principal.user)
        decision = state_of(request).limits.bucket(bucket).hit(principal.user.id, time.monotonic())
        response.headers.update(decision.headers())
        return principal

    return dependency
