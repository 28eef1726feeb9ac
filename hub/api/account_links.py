"""Mailed-link routes: email verification and its resend, password recovery and reset, email change.
The workflows are `hub.domain.account_links`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, post
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from hub.auth import AppServices, Caller, client_address
from hub.budgets import ADDRESS_MAILS, ADDRESS_MAILS_PER_IP, RECOVERIES, RECOVERIES_PER_IP, spend
from hub.domain import account_links
from hub.domain.account_links import EmailChanged
from hub.domain.accounts import TokenPair
from hub.fields import EmailAddress, LinkToken

Password = Annotated[str, msgspec.Meta(min_length=8, max_length=256)]


class Accepted(msgspec.Struct):
    """A mail was queued (or, for recovery, would have been had the address an account)."""

    status: Literal["accepted"] = "accepted"


class TokenIn(msgspec.Struct, forbid_unknown_fields=True):
    token: LinkToken


class RecoverIn(msgspec.Struct, forbid_unknown_fields=True):
    email: EmailAddress


class ResetIn(msgspec.Struct, forbid_unknown_fields=True):
    token: LinkToken
    password: Password


class EmailChangeIn(msgspec.Struct, forbid_unknown_fields=True):
    new_email: EmailAddress
    password: Annotated[str, msgspec.Meta(max_length=256)]


@post("/api/auth/verify", status_code=HTTP_200_OK, tags=["accounts"], security=[])
async def verify_email(data: JSONBody[TokenIn], services: AppServices) -> TokenPair:
    """Spends a verification link's token: `email_confirmed_at` is set and the answer is a new pair whose
    access token passes the write gate (tokens issued before pass it once refreshed). 400 `invalid_token`."""
    return await account_links.verify(services, data.token)


@post("/api/auth/verify/resend", status_code=HTTP_202_ACCEPTED, tags=["accounts"])
async def resend_verification(user: Caller, services: AppServices, request: Request[Any, Any, Any]) -> Accepted:
    """Mails a new verification link (the previous one stops working); 409 `already_done` when verified."""
    user_id = user.require_user_id()
    await spend(services, ADDRESS_MAILS_PER_IP, client_address(request))
    await spend(services, ADDRESS_MAILS, str(user_id))
    await account_links.resend_verification(services, user_id)
    return Accepted()


@post("/api/auth/recover", status_code=HTTP_202_ACCEPTED, tags=["accounts"], security=[])
async def recover(data: JSONBody[RecoverIn], services: AppServices, request: Request[Any, Any, Any]) -> Accepted:
    """202 whether or not the address has an account; when it has, a reset link is mailed to it."""
    email = data.email.strip().lower()
    await spend(services, RECOVERIES_PER_IP, client_address(request))
    await spend(services, RECOVERIES, email)
    await account_links.recover(services, email)
    return Accepted()


@post("/api/auth/reset", status_code=HTTP_200_OK, tags=["accounts"], security=[])
async def reset_password(data: JSONBody[ResetIn], services: AppServices) -> TokenPair:
    """Spends a reset link's token and sets the password; every refresh family and every older access token
    of the account is revoked, and the answer is a new pair. 400 `invalid_token`."""
    return await account_links.reset(services, data.token, data.password)


@post("/api/auth/email", status_code=HTTP_202_ACCEPTED, tags=["accounts"])
async def change_email(data: JSONBody[EmailChangeIn], user: Caller, services: AppServices,
                       request: Request[Any, Any, Any]) -> Accepted:
    """Checks the password (a wrong one: 401 `invalid_credentials`, with the login backoff) and mails a link
    to the new address; 409 `email_taken`. The address changes when the link comes back."""
    user_id = user.require_user_id()
    await spend(services, ADDRESS_MAILS_PER_IP, client_address(request))
    await spend(services, ADDRESS_MAILS, str(user_id))
    await account_links.request_email_change(services, user_id, data.new_email.strip().lower(), data.password)
    return Accepted()


@post("/api/auth/email/confirm", status_code=HTTP_200_OK, tags=["accounts"], security=[])
async def confirm_email_change(data: JSONBody[TokenIn], services: AppServices) -> EmailChanged:
    """Spends an email-change link's token: the account signs in with the new address from now on, and the
    old one gets a notice. 400 `invalid_token`, 409 `email_taken` if the address was taken meanwhile."""
    return await account_links.confirm_email_change(services, data.token)


ROUTES = [verify_email, resend_verification, recover, reset_password, change_email, confirm_email_change]
