"""The operator commands: `python -m hub grant` and `migrate` against a configured database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import jwt

from tests.helpers.api import login, signup
from tests.helpers.services import DatabaseUnderTest

ROOT = Path(__file__).resolve().parents[2]


def hub_command(test_db: DatabaseUnderTest, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": test_db.app_dsn, "MIGRATION_DATABASE_URL": test_db.owner_dsn}
    return subprocess.run([sys.executable, "-m", "hub", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


def role_in(token: str) -> object:
    return jwt.decode(token, options={"verify_signature": False})["app_metadata"].get("role")


async def test_grant_sets_and_revoke_removes_the_role_at_the_next_login(client: httpx.AsyncClient,
                                                                       test_db: DatabaseUnderTest) -> None:
    account = await signup(client)
    granted = hub_command(test_db, "grant", account.email, "host")
    assert granted.returncode == 0, granted.stderr
    assert role_in(account.access_token) is None, "an issued token keeps its claims"
    assert role_in((await login(client, account)).access_token) == "host"
    me = await client.get("/api/auth/me", headers=account.headers)
    assert me.json()["roles"] == ["host"]

    revoked = hub_command(test_db, "grant", account.email, "host", "--revoke")
    assert revoked.returncode == 0, revoked.stderr
    assert role_in((await login(client, account)).access_token) is None


def test_grant_to_an_unknown_email_fails_with_a_message(test_db: DatabaseUnderTest) -> None:
    result = hub_command(test_db, "grant", "nobody-at-all@example.com", "admin")
    assert result.returncode == 1
    assert "no user with email" in result.stdout


def test_migrate_on_a_current_database_applies_nothing_and_says_so(test_db: DatabaseUnderTest) -> None:
    result = hub_command(test_db, "migrate")
    assert result.returncode == 0, result.stderr
    assert "0 applied" in result.stdout
