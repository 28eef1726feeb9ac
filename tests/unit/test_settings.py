"""Settings: validated at start with a message naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.settings import Settings, SettingsError, describe


def test_bad_values_name_the_variable() -> None:
    with pytest.raises(SettingsError, match=r"^PORT: must be between"):
        Settings.from_env({"PORT": "99999"})
    with pytest.raises(SettingsError, match=r"^DATABASE_URL: must be a URL"):
        Settings.from_env({"DATABASE_URL": "mysql://x"})
    with pytest.raises(SettingsError, match=r"^WS_SEND_QUEUE"):
        Settings.from_env({"WS_SEND_QUEUE": "lots"})


def test_production_requires_a_secret_and_a_database() -> None:
    with pytest.raises(SettingsError, match="JWT_SECRET"):
        Settings.from_env({"HUB_ENV": "production", "DATABASE_URL": "postgresql://db/hub"})
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        Settings.from_env({"HUB_ENV": "production", "JWT_SECRET": "s" * 40})


def test_several_workers_require_redis() -> None:
    with pytest.raises(SettingsError, match="WEB_CONCURRENCY"):
        Settings.from_env({"WEB_CONCURRENCY": "4"})
    assert Settings.from_env({"WEB_CONCURRENCY": "4", "REDIS_URL": "redis://127.0.0.1:6379/0"}).web_concurrency == 4


def test_defaults_parse_and_every_variable_is_documented() -> None:
    settings = Settings.from_env({})
    assert settings.port == 8000 and settings.ws_max_frame_bytes == 65_536
    names = [name for name, _, doc in describe()]
    assert len(names) == len(set(names))
    assert all(doc for _, _, doc in describe())


def test_the_readme_lists_every_variable_with_its_default() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [name for name, default, _ in describe() if f"| `{name}` | `{default}` |" not in readme]
    assert missing == []


def test_generated_development_secret_is_kept_across_starts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = Settings.from_env({"HUB_DATA_DIR": str(tmp_path)}).secret_or_generated()
    second = Settings.from_env({"HUB_DATA_DIR": str(tmp_path)}).secret_or_generated()
    assert first == second and len(first) >= 32
    assert (tmp_path / "jwt-secret").stat().st_mode & 0o077 == 0
