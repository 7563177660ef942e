"""A PostgreSQL schema of its own for a benchmark's gateway: created before, dropped after, so
runs never see each other's rows (the gateway migrates it on start)."""

from __future__ import annotations

import asyncpg


async def create_schema(dsn: str, name: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE SCHEMA "{name}"')
    finally:
        await conn.close()


async def drop_schema(dsn: str, name: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()
