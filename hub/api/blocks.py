"""Blocking other users: `POST`/`DELETE /api/users/{id}/block` (204, idempotent) and `GET /api/me/blocks`
(`hub.domain.blocks`)."""

from __future__ import annotations

from uuid import UUID

from litestar import delete, get, post
from litestar.params import FromPath
from litestar.status_codes import HTTP_204_NO_CONTENT

from hub.auth import AppServices, Caller
from hub.budgets import BLOCKS, spend
from hub.domain.blocks import BlockList, block, own_blocks, unblock


@post("/api/users/{user_id:uuid}/block", status_code=HTTP_204_NO_CONTENT, tags=["community"])
async def block_user(user_id: FromPath[UUID], user: Caller, services: AppServices) -> None:
    await spend(services, BLOCKS, str(user.require_user_id()))
    async with services.db.transaction(user) as conn:
        await block(conn, user, user_id, cap=services.settings.max_blocks_per_user)


@delete("/api/users/{user_id:uuid}/block", tags=["community"])
async def unblock_user(user_id: FromPath[UUID], user: Caller, services: AppServices) -> None:
    await spend(services, BLOCKS, str(user.require_user_id()))
    async with services.db.transaction(user) as conn:
        await unblock(conn, user, user_id)


@get("/api/me/blocks", tags=["community"])
async def my_blocks(user: Caller, services: AppServices) -> BlockList:
    async with services.db.transaction(user) as conn:
        return await own_blocks(conn, cap=services.settings.max_blocks_per_user)


ROUTES = [block_user, unblock_user, my_blocks]
