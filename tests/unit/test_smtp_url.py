"""SMTP_URL: the three schemes, default ports, percent-decoded credentials, and errors that never echo it."""

from __future__ import annotations

import pytest

from hub.mail.smtp_url import SmtpTarget, parse_smtp_url
from hub.settings import Settings, SettingsError


@pytest.mark.parametrize(("url", "expected"), [
    ("smtp://127.0.0.1:2525", SmtpTarget("127.0.0.1", 2525, "plain")),
    ("smtp://relay", SmtpTarget("relay", 25, "plain")),
    ("smtp+starttls://mail.example.com", SmtpTarget("mail.example.com", 587, "starttls")),
    ("smtp+starttls://mail.example.com:2587", SmtpTarget("mail.example.com", 2587, "starttls")),
    ("smtps://mail.example.com", SmtpTarget("mail.example.com", 465, "tls")),
    ("SMTPS://u:p@mail.example.com:1465/", SmtpTarget("mail.example.com", 1465, "tls", "u", "p")),
])
def test_each_scheme_gives_its_security_and_default_port(url: str, expected: SmtpTarget) -> None:
    assert parse_smtp_url(url) == expected


def test_user_and_password_are_percent_decoded() -> None:
    target = parse_smtp_url("smtp+starttls://apikey%40example.com:p%40ss%3Aw%2Frd@smtp.example.com:587")
    assert (target.username, target.password) == ("apikey@example.com", "p@ss:w/rd")


def test_the_password_is_not_in_the_repr_of_the_target_or_the_settings() -> None:
    url = "smtps://user:hunter2-secret@smtp.example.com"
    assert "hunter2-secret" not in repr(parse_smtp_url(url))
    assert "hunter2-secret" not in repr(Settings.from_env({"SMTP_URL": url}))


@pytest.mark.parametrize("url", [
    "http://smtp.example.com", "smtp://", "smtp://host:notaport", "smtp://host:70000", "smtp://host/path",
    "smtp://host?x=1", "smtp://user@host", "smtp://:secret-pw@host",
])
def test_a_bad_smtp_url_stops_start_up_naming_the_variable_but_not_the_url(url: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"SMTP_URL": url})
    message = str(refused.value)
    assert message.startswith("SMTP_URL: ")
    assert "secret-pw" not in message and "notaport" not in message


def test_no_smtp_url_means_the_outbox() -> None:
    assert Settings.from_env({}).smtp_url is None
