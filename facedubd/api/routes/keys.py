"""/api-keys: create (shown once), list (prefix only), revoke."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from facedubd.api.auth import Principal, require, state_of
from facedubd.api.schemas import KeyCreate, KeyCreated, KeyOut, KeyRevoked, Problem
from facedubd.api.security import hash_key, key_prefix, new_api_key
from facedubd.api.state import AppState
from facedubd.errors import NotFound
from facedubd.store import ApiKey

router = APIRouter(tags=["api-keys"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem} for code in (400, 401, 403, 404, 429)
}


async def issue_key(state: AppState, user_id: str, name: str) -> tuple[ApiKey, str]:
    """Create a key for `user_id`; the full key is returned here and never again."""
    key = new_api_key()
    row = await state.store.create_key(
        user_id,
        name,
        key_prefix(key),
        hash_key(state.secrets.api_key_hmac, key),
        state.settings.max_active_keys,
        int(time.time()),
    )
    return row, key


@router.post(
    "/api-keys",
    response_model=KeyCreated,
    summary="Create a new API key (max 5 active)",
    responses=_ERRORS,
)
async def create_key(
    request: Request,
    body: KeyCreate,
    principal: Annotated[Principal, Depends(require("other"))],
) -> Any:
    row, key = await issue_key(state_of(request), principal.user.id, body.name)
    return KeyCreated(
        id=row.id, name=row.name, key=key, prefix=row.prefix, created_at=row.created_at
    )


@router.get(
    "/api-keys",
    response_model=list[KeyOut],
    summary="List your API keys (prefix only)",
    responses=_ERRORS,
)
async def list_keys(
    request: Request, principal: Annotated[Principal, Depends(require("other"))]
) -> Any:
    keys = await state_of(request).store.active_keys(principal.user.id)
    return [
        KeyOut(
            id=k.id,
            name=k.name,
            prefix=k.prefix,
            created_at=k.created_at,
            last_used_at=k.last_used_at,
        )
        for k in keys
    ]


@router.delete(
    "/api-keys/{key_id}",
    response_model=KeyRevoked,
    summary="Revoke an API key",
    responses=_ERRORS,
)
async def revoke_key(
    request: Request, key_id: str, principal: Annotated[Principal, Depends(require("other"))]
) -> Any:
    row = await state_of(request).store.revoke_key(principal.user.id, key_id, int(time.time()))
    if row is None or row.revoked_at is None:
        raise NotFound("No such active API key for this account.")
    return KeyRevoked(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )
