"""Settings from the environment, parsed and validated once at start-up.

Every limit is a named setting here, with its worst-case memory next to it where it has one.
A bad value stops start-up with a message naming the variable (`SettingsError`).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from hub.mail.smtp_url import parse_smtp_url

T = TypeVar("T")


class SettingsError(ValueError):
    """A variable has a value the hub cannot use; the message names it."""


def _url(schemes: tuple[str, ...]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if urlsplit(value).scheme not in schemes:
            raise ValueError(f"must be a URL starting with {' or '.join(s + '://' for s in schemes)}")
        return value

    return parse


def _int_in(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        number = int(value)
        if not low <= number <= high:
            raise ValueError(f"must be between {low} and {high}")
        return number

    return parse


def _float_in(low: float, high: float) -> Callable[[str], float]:
    def parse(value: str) -> float:
        number = float(value)
        if not low <= number <= high:
            raise ValueError(f"must be between {low} and {high}")
        return number

    return parse


def _choice(*options: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return value

    return parse


def _text(value: str) -> str:
    return value


def _secret(value: str) -> str:
    if len(value) < 32:
        raise ValueError("must be at least 32 characters")
    return value


def env(name: str, parse: Callable[[str], T], default: T, doc: str, *, secret: bool = False) -> Any:
    """Declare a setting read from the variable `name`; `doc` is shown by `python -m hub settings`.
    A `secret` one is left out of the settings' repr, so printing or logging them never shows it."""
    return field(default=default, repr=not secret, metadata={"env": name, "parse": parse, "doc": doc})


def _smtp(value: str) -> str:
    parse_smtp_url(value)
    return value


_PG = ("postgresql", "postgres")
_REDIS = ("redis", "rediss", "unix")


@dataclass(frozen=True, slots=True)
class Settings:
    # --- where things are
    database_url: str | None = env("DATABASE_URL", _url(_PG), None,
        "PostgreSQL for the app (a non-owner role such as hub_app or Supabase's authenticator); "
        "unset: start the embedded server")
    migration_database_url: str | None = env("MIGRATION_DATABASE_URL", _url(_PG), None,
        "owner connection for migrations and role set-up; default DATABASE_URL")
    redis_url: str | None = env("REDIS_URL", _url(_REDIS), None,
        "Redis for presence and ephemeral events; unset: in-process broker (one worker only)")
    data_dir: str = env("HUB_DATA_DIR", _text, ".hub-data",
        "folder for the embedded PostgreSQL and the development JWT secret")
    namespace: str | None = env("HUB_NAMESPACE", _text, None,
        "prefix of every Redis key and pub/sub channel; default derived from the database name")
    environment: str = env("HUB_ENV", _choice("development", "production"), "development",
        "production requires JWT_SECRET and DATABASE_URL")
    host: str = env("HOST", _text, "127.0.0.1", "address to bind")
    port: int = env("PORT", _int_in(0, 65535), 8000, "port to bind")
    log_level: str = env("LOG_LEVEL", _choice("debug", "info", "warning", "error"), "info", "log level")
    web_concurrency: int = env("WEB_CONCURRENCY", _int_in(1, 64), 1,
        "uvicorn workers; more than one requires REDIS_URL")
    # --- auth
    jwt_secret: str | None = env("JWT_SECRET", _secret, None,
        "HS256 secret shared with Supabase; generated into the data folder in development")
    jwt_issuer: str = env("JWT_ISSUER", _text, "hub", "iss of tokens the hub issues (any iss is accepted)")
    access_token_ttl_s: int = env("ACCESS_TOKEN_TTL", _int_in(5, 86_400), 3600, "access token lifetime")
    refresh_token_ttl_s: int = env("REFRESH_TOKEN_TTL", _int_in(60, 90 * 86_400), 30 * 86_400,
        "refresh token lifetime")
    refresh_reuse_grace_s: float = env("REFRESH_REUSE_GRACE", _float_in(0, 60), 5.0,
        "seconds in which the refresh token just replaced may be presented again (two tabs racing) and "
        "gets back the same pair; 0: every reuse revokes the family")
    login_attempts_per_minute: int = env("LOGIN_RATE_PER_MINUTE", _int_in(1, 10_000), 10,
        "failed logins per client address per minute (successes do not count)")
    # --- abuse budgets: signup, login and per-user creation (each multiplied by RATE_LIMIT_SCALE)
    rate_limit_scale: float = env("RATE_LIMIT_SCALE", _float_in(0.001, 1_000_000), 1.0,
        "multiplies every per-address, per-user and global budget (e.g. 100 for a load test from one address)")
    forwarded_allow_ips: str = env("FORWARDED_ALLOW_IPS", _text, "127.0.0.1,::1",
        "proxies (IPs or CIDRs, comma-separated; * any) whose X-Forwarded-For names the client address "
        "that per-address budgets count; set it to the platform router's")
    signups_per_ip_per_hour: int = env("SIGNUP_RATE_PER_IP_PER_HOUR", _int_in(1, 100_000), 10,
        "signups per client address per hour")
    signups_per_minute: int = env("SIGNUP_RATE_PER_MINUTE", _int_in(1, 1_000_000), 60,
        "signups per minute from all addresses together")
    login_backoff_after: int = env("LOGIN_BACKOFF_AFTER", _int_in(1, 1000), 5,
        "failed logins in a row per account before its exponential backoff starts (not multiplied by "
        "RATE_LIMIT_SCALE)")
    login_backoff_base_s: float = env("LOGIN_BACKOFF_BASE", _float_in(0.1, 3600), 1.0,
        "the first backoff wait; each further failure doubles it")
    login_backoff_max_s: float = env("LOGIN_BACKOFF_MAX", _float_in(1, 86_400), 900.0, "the longest backoff wait")
    login_failures_forget_s: int = env("LOGIN_FAILURES_FORGET", _int_in(60, 30 * 86_400), 3600,
        "an account's failure streak is forgotten this long after its last failure (or at a correct login)")
    login_known_address_s: int = env("LOGIN_KNOWN_ADDRESS_TTL", _int_in(0, 365 * 86_400), 30 * 86_400,
        "an address that signed up or logged into an account skips the account-wide backoff this long "
        "(its own failures back off separately); 0: never")
    password_hash_threads: int = env("PASSWORD_HASH_THREADS", _int_in(1, 64), 2,
        "argon2id threads of the signup pool and, separately, of the login pool; worst case "
        "2 × threads × 64 MiB")
    password_hash_queue: int = env("PASSWORD_HASH_QUEUE", _int_in(0, 10_000), 64,
        "signups (and, separately, logins) waiting for a hashing thread before 503 not_ready")
    posts_per_hour: int = env("POST_RATE_PER_HOUR", _int_in(1, 100_000), 20, "posts per user per hour")
    comments_per_hour: int = env("COMMENT_RATE_PER_HOUR", _int_in(1, 100_000), 120, "comments per user per hour")
    votes_per_minute: int = env("VOTE_RATE_PER_MINUTE", _int_in(1, 100_000), 60,
        "votes per user per minute: post and comment votes, question votes in rooms")
    room_messages_per_minute: int = env("ROOM_MESSAGE_RATE_PER_MINUTE", _int_in(1, 100_000), 30,
        "chat lines, questions and announcements per user per minute, all rooms together")
    attempts_per_lesson_per_hour: int = env("ATTEMPT_RATE_PER_LESSON_PER_HOUR", _int_in(1, 100_000), 30,
        "attempts per user per lesson per hour (a graded quiz tells which answers were right)")
    reports_per_hour: int = env("REPORT_RATE_PER_HOUR", _int_in(1, 100_000), 20,
        "reports per user per hour (POST /api/reports)")
    account_revocations_per_hour: int = env("ACCOUNT_REVOCATION_RATE_PER_HOUR", _int_in(1, 100_000), 20,
        "logout-alls and password changes per user per hour (each notifies every instance)")
    blocks_per_hour: int = env("BLOCK_RATE_PER_HOUR", _int_in(1, 100_000), 60,
        "blocks and unblocks per user per hour")
    searches_per_minute: int = env("SEARCH_RATE_PER_MINUTE", _int_in(1, 100_000), 60,
        "searches per user per minute (GET /api/search)")
    # --- accounts: verification, recovery, email change (links are built from PUBLIC_URL)
    require_email_verification: bool = env("REQUIRE_EMAIL_VERIFICATION",
        lambda v: v.lower() in ("1", "true", "yes", "on"), True,
        "unverified accounts get 403 email_unverified on posts, comments, votes, registrations, reports and "
        "durable room publishes; off: signup still mails the link and verify still works")
    verification_ttl_s: int = env("VERIFICATION_TTL", _int_in(60, 30 * 86_400), 86_400,
        "how long a mailed verification link works")
    recovery_ttl_s: int = env("RECOVERY_TTL", _int_in(60, 86_400), 3600, "how long a mailed password-reset link works")
    email_change_ttl_s: int = env("EMAIL_CHANGE_TTL", _int_in(60, 86_400), 3600,
        "how long a mailed email-change link works")
    verify_resends_per_hour: int = env("VERIFY_RESEND_RATE_PER_HOUR", _int_in(1, 100_000), 5,
        "verification resends and email-change mails per account per hour, and per client address (x10)")
    recoveries_per_hour: int = env("RECOVER_RATE_PER_HOUR", _int_in(1, 100_000), 5,
        "password-reset mails asked for per email address per hour, and separately per client address (x10)")
    exports_per_hour: int = env("EXPORT_RATE_PER_HOUR", _int_in(1, 100_000), 5,
        "data exports per user per hour (GET /api/me/export reads every section of the account)")
    export_section_rows: int = env("EXPORT_SECTION_ROWS", _int_in(100, 1_000_000), 10_000,
        "rows per section of GET /api/me/export at most (newest first; the section says when it was cut)")
    # --- moderation
    report_hide_threshold: int = env("REPORT_HIDE_THRESHOLD", _int_in(1, 1000), 3,
        "distinct users with open reports on a post, comment or chat line that hide it from everyone but its "
        "author and admins until a moderator resolves them")
    report_hide_min_account_age_hours: int = env("REPORT_HIDE_MIN_ACCOUNT_AGE_HOURS", _int_in(0, 8760), 24,
        "how old (and email-confirmed) a reporter's account must have been when reporting for the report to "
        "count toward REPORT_HIDE_THRESHOLD; the admin queue shows every report")
    report_ban_days: int = env("REPORT_BAN_DAYS", _int_in(1, 3650), 7,
        "how long a report's `ban_author` resolution bans the author")
    max_blocks_per_user: int = env("MAX_BLOCKS_PER_USER", _int_in(1, 100_000), 1000,
        "users one user may block; GET /api/me/blocks returns them all (~100 bytes each)")
    # --- billing
    stripe_secret_key: str | None = env("STRIPE_SECRET_KEY", _text, None, "unset: billing answers 503")
    stripe_webhook_secret: str | None = env("STRIPE_WEBHOOK_SECRET", _text, None, "whsec_… for webhooks")
    stripe_api_base: str | None = env("STRIPE_API_BASE", _url(("http", "https")), None,
        "Stripe API base URL (a local stand-in in tests)")
    public_url: str = env("PUBLIC_URL", _url(("http", "https")), "http://127.0.0.1:8000",
        "where the browser app lives, for Stripe return URLs")
    free_tier_level: int = env("FREE_TIER_LEVEL", _int_in(0, 1000), 1,
        "highest lesson level open without a subscription")
    # --- database
    db_pool_min: int = env("DB_POOL_MIN", _int_in(0, 100), 1, "pool connections kept open")
    db_pool_max: int = env("DB_POOL_MAX", _int_in(1, 200), 10, "pool connections at most")
    db_statement_timeout_ms: int = env("DB_STATEMENT_TIMEOUT_MS", _int_in(100, 600_000), 30_000,
        "statement timeout of every query")
    db_acquire_timeout_s: float = env("DB_ACQUIRE_TIMEOUT", _float_in(0.1, 60), 5.0,
        "wait for a pool connection before answering 503")
    event_retention_days: int = env("EVENT_RETENTION_DAYS", _int_in(1, 3650), 7,
        "events older than this are pruned from the channel log")
    event_retention_count: int = env("EVENT_RETENTION_COUNT", _int_in(100, 10_000_000), 10_000,
        "events kept per channel at most")
    # --- comment threads
    max_reply_depth: int = env("MAX_REPLY_DEPTH", _int_in(1, 20), 10,
        "deepest reply level (top-level comments are 0); a reply to a comment at this depth attaches to "
        "its ancestor one level up, so it lands at this depth (the schema refuses deeper than 20)")
    votes_snapshot_comments: int = env("VOTES_SNAPSHOT_COMMENTS", _int_in(0, 1000), 100,
        "comments whose counts a votes:<post> subscribe snapshot carries (the first in display order, "
        "after the post's); later counts of every comment still arrive live")
    # --- websocket limits
    ws_max_frame_bytes: int = env("WS_MAX_FRAME_BYTES", _int_in(1024, 1 << 24), 65_536,
        "client frames over this close with 1009")
    ws_send_queue: int = env("WS_SEND_QUEUE", _int_in(8, 100_000), 1024,
        "frames queued per connection before 4008; worst case queue × ~1 KiB × connections")
    ws_auth_timeout_s: float = env("WS_AUTH_TIMEOUT", _float_in(0.05, 60), 5.0, "first auth frame deadline")
    ws_heartbeat_s: float = env("WS_HEARTBEAT", _float_in(0.05, 600), 25.0, "server ping interval")
    ws_max_connections_per_user: int = env("WS_MAX_CONNECTIONS_PER_USER", _int_in(1, 10_000), 20,
        "more close with 4029")
    ws_max_subscriptions: int = env("WS_MAX_SUBSCRIPTIONS", _int_in(1, 10_000), 100,
        "channels per connection")
    ws_publish_rate: float = env("WS_PUBLISH_RATE", _float_in(0.1, 10_000), 5.0,
        "client publishes per second per user and channel (sustained)")
    ws_publish_burst: int = env("WS_PUBLISH_BURST", _int_in(1, 10_000), 10, "publish burst")
    # --- websocket budgets
    # Per connection, not per address or user: not multiplied by RATE_LIMIT_SCALE (one address may hold many).
    ws_frame_rate: float = env("WS_FRAME_RATE", _float_in(0.1, 10_000), 20.0,
        "client frames per second per connection (sustained), every op counted; over it: rate_limited")
    ws_frame_burst: int = env("WS_FRAME_BURST", _int_in(1, 100_000), 200,
        "client frames a connection may send at once; keep above WS_MAX_SUBSCRIPTIONS (a reconnect resubscribes)")
    ws_strike_limit: int = env("WS_STRIKE_LIMIT", _int_in(1, 10_000), 10,
        "refusals (bad_frame, not_found, forbidden, frame or lookup budget) within WS_STRIKE_WINDOW: close 1008")
    ws_strike_window_s: float = env("WS_STRIKE_WINDOW", _float_in(0.1, 3600), 10.0, "strike window, seconds")
    # Per user, on all instances together (Redis when configured): multiplied by RATE_LIMIT_SCALE.
    ws_opens_per_minute: int = env("WS_OPEN_RATE_PER_MINUTE", _int_in(1, 100_000), 60,
        "connections a user may open (first auth) per minute; over it: rate_limited reply, close 4029")
    ws_lookups_per_minute: int = env("WS_LOOKUP_RATE_PER_MINUTE", _int_in(1, 1_000_000), 600,
        "subscribes per user per minute that look a post or session up in the database; over it: "
        "rate_limited, a strike")
    ws_strike_cool_off_s: int = env("WS_STRIKE_COOL_OFF", _int_in(1, 86_400), 30,
        "seconds after a 1008 strike close in which the user's new connections are refused (close 1008)")
    ws_missing_ttl_s: float = env("WS_MISSING_TTL", _float_in(0, 60), 2.0,
        "seconds a post or session found missing answers subscribe with not_found without a database lookup")
    ws_missing_max: int = env("WS_MISSING_MAX", _int_in(1, 1_000_000), 10_000,
        "posts and sessions remembered as missing, least recently used dropped first (~250 B each)")
    ws_compression: bool = env("WS_COMPRESSION", lambda v: v.lower() in ("1", "true", "yes"), False,
        "permessage-deflate; off by default (see docs/benchmarks.md for the memory cost)")
    coalesce_ms: int = env("COALESCE_MS", _int_in(1, 10_000), 100, "counts frames per channel at most every")
    presence_batch_ms: int = env("PRESENCE_BATCH_MS", _int_in(1, 10_000), 250, "presence diff window")
    presence_ttl_s: int = env("PRESENCE_TTL", _int_in(2, 3600), 30,
        "a crashed instance's presence entries vanish within this")
    large_room_threshold: int = env("LARGE_ROOM_THRESHOLD", _int_in(1, 1_000_000), 200,
        "present users above which participants get counts instead of the full list")
    drain_timeout_s: float = env("DRAIN_TIMEOUT", _float_in(0, 600), 10.0, "SIGTERM drain budget")
    # --- operations: metrics, retention, listener recovery
    idempotency_retention_h: int = env("IDEMPOTENCY_RETENTION_HOURS", _int_in(1, 24 * 30), 24,
        "stored Idempotency-Key results are pruned this long after the request (clients retry within minutes)")
    refresh_family_retention_days: int = env("REFRESH_FAMILY_RETENTION_DAYS", _int_in(0, 365), 7,
        "a refresh-token family is pruned this long after its last token expired")
    activity_log_retention_days: int = env("ACTIVITY_LOG_RETENTION_DAYS", _int_in(30, 3650), 365,
        "user_activity_log rows older than this are pruned (a year of activity history)")
    stripe_event_retention_days: int = env("STRIPE_EVENT_RETENTION_DAYS", _int_in(4, 3650), 33,
        "processed Stripe event ids are pruned after this (Stripe's 30-day event window + 3-day retries)")
    deleted_content_retention_days: int = env("DELETED_CONTENT_RETENTION_DAYS", _int_in(1, 3650), 90,
        "the text of deleted comments and chat lines, kept server-only as moderation evidence, is pruned after this")
    notify_digest_window_s: float = env("NOTIFY_DIGEST_WINDOW_S", _float_in(1, 86_400), 300.0,
        "a notification mail waits this long after the first notification it carries, collecting the rest")
    notification_retention_days: int = env("NOTIFICATION_RETENTION_DAYS", _int_in(1, 3650), 90,
        "read notifications are pruned this long after they were created")
    unread_notification_retention_days: int = env("UNREAD_NOTIFICATION_RETENTION_DAYS", _int_in(1, 3650), 365,
        "unread notifications are pruned this long after they were created")
    retention_batch: int = env("RETENTION_BATCH", _int_in(1, 100_000), 1000,
        "rows one prune statement deletes at most, so no prune holds locks for long")
    # --- fan-out between instances (docs/design.md "Relay mode")
    fanout: str = env("FANOUT", _choice("notify", "relay"), "notify",
        "how committed events reach instances: notify (every instance LISTENs to every event) or relay (one "
        "elected instance reads the log and publishes each event to its channel's Redis Cluster shard; "
        "instances receive only the channels they serve; needs REDIS_CLUSTER)")
    redis_cluster: bool = env("REDIS_CLUSTER", lambda v: v.lower() in ("1", "true", "yes"), False,
        "REDIS_URL names one node of a Redis Cluster (7+): presence, ephemeral events and the relay use "
        "sharded pub/sub, one shard per channel")
    relay_standby_poll_s: float = env("RELAY_STANDBY_POLL", _float_in(0.05, 60), 0.5,
        "seconds between a standby relay's tries to take the relay lock: the longest failover adds this")
    relay_check_s: float = env("RELAY_CHECK", _float_in(0.1, 600), 2.0,
        "relay mode: seconds between an instance's checks of its channels' log heads; an event lost in a Redis "
        "failover is delivered within twice this when no later event of its channel shows the gap")
    listener_retry_max_s: float = env("LISTENER_RETRY_MAX", _float_in(0.01, 5), 0.25,
        "longest pause between LISTEN reconnect attempts while an outage is young: /readyz and deliveries "
        "recover within about this (plus a log catch-up) once the database is back")
    listener_retry_fast_for_s: float = env("LISTENER_RETRY_FAST_FOR", _float_in(0, 3600), 60.0,
        "outage length after which LISTEN reconnect attempts back off to 5 s apart")
    service_key: str | None = env("HUB_SERVICE_KEY", _secret, None,
        "a backend's key for POST /api/admin/channels/{channel}/events, sent as `Authorization: Bearer <this>` "
        "(at least 32 characters); unset: only admins publish server events", secret=True)
    server_publishes_per_minute: int = env("SERVER_PUBLISH_RATE_PER_MINUTE", _int_in(1, 1_000_000), 600,
        "server events per minute per admin, and for the service key together")
    metrics_token: str | None = env("METRICS_TOKEN", _secret, None,
        "/metrics answers only `Authorization: Bearer <this>` (at least 32 characters); unset: /metrics is 404")
    # --- jobs and mail
    smtp_url: str | None = env("SMTP_URL", _smtp, None,
        "where mail goes: smtp://host:port (plain, e.g. a loopback relay), smtp+starttls://, smtps://, with an "
        "optional percent-encoded user:password@; unset: each mail is written to outbox/ in HUB_DATA_DIR and logged",
        secret=True)
    mail_from: str = env("MAIL_FROM", _text, "hub <hub@localhost>", "From: of every mail the hub sends")
    job_concurrency: int = env("JOB_CONCURRENCY", _int_in(1, 64), 4, "jobs one instance runs at once")
    job_lease_s: float = env("JOB_LEASE", _float_in(0.5, 3600), 60.0,
        "seconds a claimed job stays with its instance unless renewed (every third of it while it runs): "
        "a job of an instance that died runs again elsewhere this long after its last renewal")
    job_poll_s: float = env("JOB_POLL", _float_in(0.05, 600), 5.0,
        "longest wait between looks for due jobs when no wake-up note arrives (scheduled jobs, missed notes)")
    job_max_attempts: int = env("JOB_MAX_ATTEMPTS", _int_in(1, 100), 8,
        "runs of a job before it is left `failed` for inspection")
    job_retry_base_s: float = env("JOB_RETRY_BASE", _float_in(0.01, 3600), 10.0,
        "wait before a failed job's first retry; doubled for each further one, at most an hour")
    job_timeout_s: float = env("JOB_TIMEOUT", _float_in(1, 3600), 300.0,
        "a job running longer counts as a failed attempt")
    job_retention_days: int = env("JOB_RETENTION_DAYS", _int_in(1, 3650), 14,
        "done and failed jobs (and so their dedupe keys) are pruned this long after they finished")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        source = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = f.metadata["env"]
            raw = source.get(name)
            if raw is None or raw == "":
                continue
            try:
                values[f.name] = f.metadata["parse"](raw.strip())
            except ValueError as exc:
                raise SettingsError(f"{name}: {exc}") from None
        values.update(overrides)
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        if self.environment == "production":
            if not self.jwt_secret:
                raise SettingsError("JWT_SECRET: required when HUB_ENV=production")
            if not self.database_url:
                raise SettingsError("DATABASE_URL: required when HUB_ENV=production")
        if self.web_concurrency > 1 and not self.redis_url:
            raise SettingsError("WEB_CONCURRENCY: more than one worker needs REDIS_URL "
                                "(the in-process broker cannot reach other workers)")
        if self.fanout == "relay" and not (self.redis_url and self.redis_cluster):
            raise SettingsError("FANOUT: relay needs REDIS_URL naming a Redis Cluster node and REDIS_CLUSTER=1")
        if self.db_pool_min > self.db_pool_max:
            raise SettingsError("DB_POOL_MIN: must not exceed DB_POOL_MAX")

    def scaled(self, budget: int) -> int:
        """A per-address, per-user or global budget times RATE_LIMIT_SCALE, never below 1."""
        return max(1, int(budget * self.rate_limit_scale))

    def scaled_rate(self, per_second: float) -> float:
        """A per-user rate (uses per second) times RATE_LIMIT_SCALE."""
        return per_second * self.rate_limit_scale

    @property
    def billing_enabled(self) -> bool:
        return bool(self.stripe_secret_key and self.stripe_webhook_secret)

    def data_path(self) -> Path:
        return Path(self.data_dir).resolve()

    def secret_or_generated(self) -> str:
        """The JWT secret; in development one is generated once and kept in the data folder."""
        if self.jwt_secret:
            return self.jwt_secret
        path = self.data_path() / "jwt-secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


def describe() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) for every setting: the README's table is generated from this."""
    return [(f.metadata["env"], repr(f.default), f.metadata["doc"]) for f in fields(Settings)]
