"""Demo data: an admin, a host, learners, lessons over three levels, achievements, plans, posts with
threaded comments and votes, and upcoming and live workshops. Prints what it does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
from argon2 import PasswordHasher

from persistence.db import init_connection

DEMO_PASSWORD = "demo-password-1"

USERS = [
    ("admin@hub.local", "Ada Admin", "admin"),
    ("host@hub.local", "Hugo Host", "host"),
    ("alice@hub.local", "Alice Learner", None),
    ("bob@hub.local", "Bob Learner", None),
    ("carol@hub.local", "Carol Learner", None),
]

LESSONS = [
    (1, 1, "What is a market?", "beginner", 100),
    (1, 2, "Candlesticks", "beginner", 150),
    (1, 3, "Support and resistance", "beginner", 200),
    (2, 1, "Position sizing", "intermediate", 300),
    (2, 2, "Risk-reward ratios", "intermediate", 300),
    (3, 1, "Options basics", "advanced", 500),
    (3, 2, "Volatility", "advanced", 600),
]

ACHIEVEMENTS = [
    ("first_lesson", "First steps", "Complete your first lesson", {"lessons_completed": 1}, 50, "common"),
    ("five_lessons", "Studious", "Complete five lessons", {"lessons_completed": 5}, 200, "rare"),
    ("xp_1000", "Level up", "Earn 1,000 XP", {"total_xp": 1000}, 100, "rare"),
    ("streak_3", "On a roll", "Learn three days in a row", {"streak_days": 3}, 100, "common"),
    ("first_post", "Hello, community", "Write your first post", {"posts_created": 1}, 25, "common"),
    ("first_session", "Live learner", "Attend a live workshop", {"sessions_attended": 1}, 50, "common"),
]


async def seed_demo(owner_dsn: str, *, log: Callable[[str], None] = print, only_if_empty: bool = True) -> bool:
    """Loads the demo data in one transaction; returns False (and does nothing) when users exist and
    `only_if_empty` is set."""
    conn = await asyncpg.connect(owner_dsn)
    await init_connection(conn)
    try:
        if only_if_empty and await conn.fetchval("SELECT count(*) FROM auth.users") > 0:
            log("seed: database already has users, skipping demo data")
            return False
        started = time.perf_counter()
        async with conn.transaction():
            users = await _users(conn, log)
            await _lessons(conn, users["admin@hub.local"], log)
            await _achievements(conn, log)
            await _plans(conn, log)
            await _community(conn, users, log)
            await _sessions(conn, users, log)
        log(f"seed: done in {time.perf_counter() - started:.1f} s "
            f"(log in as any of {', '.join(u[0] for u in USERS)} with password {DEMO_PASSWORD})")
        return True
    finally:
        await conn.close()


async def _users(conn: asyncpg.Connection, log: Callable[[str], None]) -> dict[str, UUID]:
    log(f"seed: {len(USERS)} users")
    password_hash = await asyncio.to_thread(PasswordHasher().hash, DEMO_PASSWORD)
    ids: dict[str, UUID] = {}
    for email, name, role in USERS:
        app_meta = {"provider": "email", "providers": ["email"], **({"role": role} if role else {})}
        ids[email] = await conn.fetchval(
            """
            INSERT INTO auth.users (email, encrypted_password, email_confirmed_at,
                                    raw_app_meta_data, raw_user_meta_data)
            VALUES ($1, $2, now(), $3::jsonb, jsonb_build_object('full_name', $4::text))
            RETURNING id
            """,
            email, password_hash, app_meta, name,
        )
    return ids


async def _lessons(conn: asyncpg.Connection, admin: UUID, log: Callable[[str], None]) -> None:
    log(f"seed: {len(LESSONS)} lessons over 3 levels")
    previous: UUID | None = None
    for level, gate, title, difficulty, xp in LESSONS:
        previous = await conn.fetchval(
            """
            INSERT INTO public.lessons (level_id, gate_id, title, subtitle, description, content_data,
                                        assessment_data, xp_reward, estimated_time, difficulty,
                                        prerequisites, order_index, created_by)
            VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9, $10, $11, $2, $12)
            RETURNING id
            """,
            level, gate, title, f"Level {level}, gate {gate}", f"A lesson about {title.lower()}",
            _content(title), _assessment(title),
            xp, timedelta(minutes=15), difficulty, [previous] if previous and gate > 1 else None, admin,
        )


def _content(title: str) -> dict[str, Any]:
    """The lesson body as the browser's lesson player renders it: Markdown text sections."""
    body = (f"## {title}\n\nThis lesson covers **{title.lower()}**: what it is and why it matters.\n\n"
            "- read the notes\n- answer the quiz\n- pass with 70% or more to earn the XP\n\n"
            "More on [Investopedia](https://www.investopedia.com/).")
    return {"sections": [{"kind": "text", "body": body}]}


def _assessment(title: str) -> dict[str, Any]:
    """A graded quiz in the documented shape (hub/rules/grading.py): one question of each kind."""
    return {"pass_score": 70, "questions": [
        {"q": f"Which of these is the topic of \u201c{title}\u201d?", "choices": [title, "Cooking", "Gardening"],
         "answer": 0, "explanation": f"This lesson is about {title.lower()}."},
        {"q": "Which of these are ways to manage risk?", "choices": ["Position sizing", "Stop-loss orders",
                                                                      "Ignoring losses"],
         "answer": [0, 1], "explanation": "Sizing and stops limit a loss; ignoring it does not."},
        {"q": "A stock goes from 50 to 55. What is the gain in percent?", "answer": 10, "tolerance": 0.5,
         "explanation": "(55 - 50) / 50 = 10%."},
    ]}


async def _achievements(conn: asyncpg.Connection, log: Callable[[str], None]) -> None:
    log(f"seed: {len(ACHIEVEMENTS)} achievements")
    for code, title, description, requirements, xp, rarity in ACHIEVEMENTS:
        await conn.execute(
            """
            INSERT INTO public.achievements (code, title, description, category, xp_reward, requirements, rarity)
            VALUES ($1, $2, $3, 'learning', $4, $5::jsonb, $6)
            """,
            code, title, description, xp, requirements, rarity,
        )


async def _plans(conn: asyncpg.Connection, log: Callable[[str], None]) -> None:
    log("seed: 2 plans")
    for name, plan_type, price, limit, trial in (("Pro monthly", "monthly", 29, 99, 7),
                                                  ("Pro yearly", "yearly", 290, 99, 14)):
        await conn.execute(
            """
            INSERT INTO public.subscription_plans (name, description, plan_type, price, currency, features,
                                                   trial_days, level_access_limit)
            VALUES ($1, 'Every level, every workshop', $2, $3, 'USD', $4::jsonb, $5, $6)
            """,
            name, plan_type, price, {"levels": "all", "workshops": True}, trial, limit,
        )


async def _community(conn: asyncpg.Connection, users: dict[str, UUID], log: Callable[[str], None]) -> None:
    log("seed: 3 posts with threaded comments and votes")
    learners = [users["alice@hub.local"], users["bob@hub.local"], users["carol@hub.local"]]
    posts = [
        (users["admin@hub.local"], "Welcome to the community", "announcement", "general", True),
        (learners[0], "How do you size your first positions?", "question", "risk", False),
        (learners[1], "My notes on candlestick patterns", "discussion", "technical-analysis", False),
    ]
    for author, title, post_type, category, pinned in posts:
        post_id = await conn.fetchval(
            """
            INSERT INTO public.community_posts (author_id, title, content, post_type, category, tags, is_pinned)
            VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id
            """,
            author, title, f"{title} — let's talk about it.", post_type, category, [category], pinned,
        )
        parent = None
        for depth, commenter in enumerate(learners):
            parent = await conn.fetchval(
                """
                INSERT INTO public.community_comments (post_id, author_id, parent_comment_id, content)
                VALUES ($1, $2, $3, $4) RETURNING id
                """,
                post_id, commenter, parent, f"A reply at depth {depth}",
            )
        for voter in learners:
            if voter != author:
                await conn.execute(
                    """
                    INSERT INTO public.community_votes (user_id, target_type, target_id, vote_type)
                    VALUES ($1, 'post', $2, 'upvote')
                    """,
                    voter, post_id,
                )


async def _sessions(conn: asyncpg.Connection, users: dict[str, UUID], log: Callable[[str], None]) -> None:
    log("seed: 2 workshops (one live, one upcoming)")
    now = datetime.now(UTC)
    host = users["host@hub.local"]
    for title, status, start in (("Live: reading the tape", "live", now - timedelta(minutes=10)),
                                 ("Options Q&A", "scheduled", now + timedelta(days=2))):
        session_id = await conn.fetchval(
            """
            INSERT INTO public.live_sessions (title, description, host_id, session_type, scheduled_at, duration,
                                              max_participants, status)
            VALUES ($1, $2, $3, 'workshop', $4, $5, 50, $6) RETURNING id
            """,
            title, f"{title} with {USERS[1][1]}", host, start, timedelta(hours=1), status,
        )
        for email in ("alice@hub.local", "bob@hub.local"):
            await conn.execute(
                "INSERT INTO public.session_participants (session_id, user_id) VALUES ($1, $2)",
                session_id, users[email],
            )
