"""Static checks of the SQL migrations (no database needed)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from persistence.migrate import MIGRATIONS_DIR, MigrationChecksumError, migration_files

FILES = migration_files()
ALL_SQL = "\n".join(sql for _, _, sql in FILES)
CODE = re.sub(r"--[^\n]*", "", ALL_SQL)  # comments stripped

SEED_TABLES = [
    "user_profiles", "user_progress", "lessons", "achievements", "user_achievements", "leaderboard",
    "user_streaks", "user_activity_log", "community_posts", "community_comments", "community_votes",
    "live_sessions", "session_participants", "subscription_plans", "user_subscriptions",
]
ADDED_PUBLIC_TABLES = ["session_messages", "session_message_votes", "session_room_settings", "session_room_sanctions",
                       "user_blocks", "notifications"]
SEED_INDEXES = [
    "idx_user_progress_user", "idx_user_progress_level", "idx_user_progress_completed", "idx_lessons_active",
    "idx_lessons_level_order", "idx_lessons_content_type", "idx_user_achievements_user",
    "idx_user_achievements_unlocked", "idx_leaderboard_period_rank", "idx_leaderboard_user_period",
    "idx_user_streaks_user", "idx_user_streaks_reset", "idx_activity_log_user_time", "idx_activity_log_type",
    "idx_activity_log_session", "idx_posts_author", "idx_posts_category", "idx_posts_pinned",
    "idx_posts_activity", "idx_comments_post", "idx_comments_author", "idx_votes_target",
    "idx_sessions_host", "idx_sessions_scheduled", "idx_sessions_status", "idx_session_participants_session",
    "idx_subscription_plans_active", "idx_user_subscriptions_user", "idx_user_subscriptions_status",
]


def test_files_are_numbered_in_order() -> None:
    names = [name for name, _, _ in FILES]
    assert names == sorted(names)
    assert [int(n[:4]) for n in names] == list(range(1, len(names) + 1))
    assert all(re.fullmatch(r"\d{4}_[a-z0-9_]+\.sql", n) for n in names)


def test_checksums_are_sha256_of_the_bytes() -> None:
    for name, checksum, _ in FILES:
        assert checksum == hashlib.sha256((MIGRATIONS_DIR / name).read_bytes()).hexdigest()


def test_no_transaction_control_no_extensions_no_enums() -> None:
    assert not re.search(r"^\s*(BEGIN|COMMIT|ROLLBACK)\s*;", CODE, re.M | re.I)
    assert not re.search(r"CREATE\s+EXTENSION", CODE, re.I)
    assert not re.search(r"CREATE\s+TYPE", CODE, re.I)
    assert "citext" not in CODE and "uuid_generate" not in CODE


def test_every_seed_name_exists() -> None:
    for table in SEED_TABLES + ADDED_PUBLIC_TABLES:
        assert re.search(rf"CREATE TABLE public\.{table} \(", CODE), table
    for index in SEED_INDEXES:
        assert re.search(rf"CREATE INDEX {index} ", CODE), index
    for view in ("user_learning_stats", "lesson_popularity"):
        assert f"CREATE VIEW public.{view}" in CODE
    assert "public.calculate_user_level(total_xp integer)" in CODE
    assert "streak_data jsonb" in CODE and "streak_streak_data" not in CODE


def test_every_public_table_has_rls() -> None:
    for table in SEED_TABLES + ADDED_PUBLIC_TABLES:
        assert f"ALTER TABLE public.{table} ENABLE ROW LEVEL SECURITY;" in CODE, table
    created = set(re.findall(r"CREATE TABLE public\.(\w+)", CODE))
    assert created == set(SEED_TABLES + ADDED_PUBLIC_TABLES)


def test_no_double_counting_leaderboard_trigger() -> None:
    assert not re.search(r"CREATE TRIGGER \w+\s+AFTER INSERT OR UPDATE ON (public\.)?user_progress", CODE)
    assert "update_leaderboard" not in CODE


def test_security_definer_functions_pin_search_path() -> None:
    for match in re.finditer(r"CREATE OR REPLACE FUNCTION ([\w.]+)\((.*?)\$\$", CODE, re.S):
        if "SECURITY DEFINER" in match.group(0):
            assert "SET search_path = pg_catalog, public" in match.group(0), match.group(1)


def test_checksum_error_names_the_file() -> None:
    err = MigrationChecksumError("0003_learning.sql")
    assert "0003_learning.sql" in str(err)
    assert err.name == "0003_learning.sql"
    assert Path(MIGRATIONS_DIR).is_dir()
