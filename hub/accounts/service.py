"""The accounts' invariants: names unique (the database's key), passwords hashed, lock-out
after repeated failures, sessions and refresh tokens stored hashed, refresh tokens rotated on
use with reuse detection. Every claim is the database's: a failure count goes up by one
UPDATE, a refresh token is spent by a conditional UPDATE that only one caller can win."""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session as Db

from hub.accounts import passwords
from hub.accounts.models import Session, User, UserStore
from hub.accounts.roles import ROLES, STORE_MANAGER
from hub.auth.principal import Principal
from hub.db import Database, utcnow

log = logging.getLogger(__name__)

MAX_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)
CONSOLE_TTL = timedelta(hours=12)
REFRESH_TTL = timedelta(days=14)


class AccountError(Exception):
    """Refused with a reason the caller may see (invalid input unless a subclass says more;
    hub/http_errors.STATUS maps each class to its HTTP answer)."""


class AccountNotFound(AccountError):
    """No such account."""


class SignInRefused(AccountError):
    """A wrong name or password, a locked or disabled account: one reason for all."""


class RefreshRefused(AccountError):
    """A refresh token unknown, expired, revoked, already spent, or its account disabled."""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Account:
    """A user as the rest of the hub sees it (no hash)."""

    id: int
    username: str
    display_name: str
    role: str
    disabled: bool
    stores: tuple[str, ...]
    locked_until: datetime | None

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "display_name": self.display_name,
            "role": self.role,
            "disabled": self.disabled,
            "stores": list(self.stores),
            "locked_until": self.locked_until,
        }

    def principal(self) -> Principal:
        return Principal(
            "user", self.id, self.username, role=self.role, stores=frozenset(self.stores)
        )


def _account(db: Db, u: User) -> Account:
    stores = db.scalars(
        select(UserStore.store_id).where(UserStore.user_id == u.id).order_by(UserStore.store_id)
    )
    locked = u.locked_until if u.locked_until and u.locked_until > utcnow() else None
    return Account(u.id, u.username, u.display_name, u.role, u.disabled, tuple(stores), locked)


def _check_password(password: str) -> None:
    if len(password) < passwords.MIN_LENGTH:
        raise AccountError(f"a password needs at least {passwords.MIN_LENGTH} characters")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}: one of {', '.join(ROLES)}")


def create(
    db: Db,
    username: str,
    password: str,
    role: str,
    display_name: str = "",
    stores: list[str] | None = None,
) -> Account:
    _check_role(role)
    _check_password(password)
    u = User(
        username=username,
        display_name=display_name,
        password_hash=passwords.hash_password(password),
        role=role,
    )
    db.add(u)
    db.flush()  # a taken name is the unique key's 409
    _set_stores(db, u, stores or [])
    log.info("account %s created with role %s", username, role)
    return _account(db, u)


def _set_stores(db: Db, u: User, stores: list[str]) -> None:
    db.execute(delete(UserStore).where(UserStore.user_id == u.id))
    for store in sorted(set(stores)):
        db.add(UserStore(user_id=u.id, store_id=store))  # an unknown store is the FK's 422
    db.flush()


def _user(db: Db, user_id: int) -> User:
    u = db.get(User, user_id)
    if u is None:
        raise AccountNotFound(f"no account {user_id}")
    return u


def get(db: Db, user_id: int) -> Account:
    return _account(db, _user(db, user_id))


def listing(db: Db) -> list[Account]:
    return [_account(db, u) for u in db.scalars(select(User).order_by(User.username))]


def change(
    db: Db,
    user_id: int,
    *,
    role: str | None = None,
    display_name: str | None = None,
    disabled: bool | None = None,
    stores: list[str] | None = None,
    password: str | None = None,
) -> Account:
    u = _user(db, user_id)
    ends_sessions = bool(disabled) or password is not None or (role not in (None, u.role))
    if role is not None:
        _check_role(role)
        u.role = role
    if display_name is not None:
        u.display_name = display_name
    if password is not None:
        _check_password(password)
        u.password_hash = passwords.hash_password(password)
        u.failed_logins, u.locked_until = 0, None
    if disabled is not None:
        u.disabled = disabled
    if stores is not None:
        _set_stores(db, u, stores)
    if ends_sessions:
        # whoever held this account's sessions must sign in again under the new terms
        revoke_all(db, user_id)
    log.info("account %s changed", u.username)
    return _account(db, u)


def sign_in(db: Db, username: str, password: str) -> Account:
    """The account, if the password is right and the account neither disabled nor locked;
    else SignInRefused with one reason for any wrong name or password."""
    u = db.scalars(select(User).where(User.username == username)).first()
    now = utcnow()
    if u is not None and u.locked_until is not None and u.locked_until > now:
        log.warning("sign-in refused for %s: locked", username)
        raise SignInRefused("too many failed sign-ins: try again later")
    if not passwords.verify(u.password_hash if u else None, password) or u is None:
        if u is not None:
            _failed(db, u.id, now)
        log.warning("sign-in refused for %r: wrong name or password", username)
        raise SignInRefused("wrong user name or password")
    if u.disabled:
        log.warning("sign-in refused for %s: disabled", username)
        raise SignInRefused("this account is disabled")
    if u.failed_logins:
        u.failed_logins = 0
    return _account(db, u)


def _failed(db: Db, user_id: int, now: datetime) -> None:
    """Count one failure in the database (concurrent failures each count); the one that
    reaches MAX_FAILURES locks the account and starts the count again."""
    count = db.execute(
        update(User)
        .where(User.id == user_id)
        .values(failed_logins=User.failed_logins + 1)
        .returning(User.failed_logins)
    ).scalar_one()
    if count >= MAX_FAILURES:
        db.execute(
            update(User)
            .where(User.id == user_id)
            .values(failed_logins=0, locked_until=now + LOCK_FOR)
        )
        log.warning("account %s locked for %s after %d failures", user_id, LOCK_FOR, count)


def open_session(db: Db, account: Account, kind: str, family: str | None = None) -> str:
    """A new console session or refresh token for the account; returns the raw token (only
    its hash is kept)."""
    token = secrets.token_urlsafe(32)
    ttl = CONSOLE_TTL if kind == "console" else REFRESH_TTL
    db.add(
        Session(
            user_id=account.id,
            kind=kind,
            token_sha256=digest(token),
            family=family or secrets.token_hex(16),
            expires_at=utcnow() + ttl,
        )
    )
    db.flush()
    return token


def session_account(db: Db, token: str, kind: str) -> Account | None:
    row = db.execute(
        select(Session, User)
        .join(User, User.id == Session.user_id)
        .where(
            Session.token_sha256 == digest(token),
            Session.kind == kind,
            Session.revoked_at.is_(None),
            Session.expires_at > utcnow(),
            User.disabled.is_(False),
        )
    ).first()
    return _account(db, row[1]) if row else None


def refresh(db: Db, token: str) -> tuple[Account, str]:
    """Spend a refresh token for a new one of the same family. Only one caller can spend a
    token (the UPDATE's WHERE); a spent or revoked token shown again revokes its family."""
    now = utcnow()
    row = db.scalars(
        select(Session).where(Session.token_sha256 == digest(token), Session.kind == "refresh")
    ).first()
    if row is None:
        raise RefreshRefused("unknown refresh token")
    spent = db.execute(
        update(Session)
        .where(Session.id == row.id, Session.revoked_at.is_(None), Session.expires_at > now)
        .values(revoked_at=now)
    ).rowcount
    if spent != 1:
        if row.expires_at > now:
            # a token already spent came back: someone holds a copy; end the whole family
            db.execute(
                update(Session)
                .where(Session.family == row.family, Session.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            log.warning("refresh token reused (family %s): family revoked", row.family)
        raise RefreshRefused("refresh token expired, revoked or already used")
    u = db.get(User, row.user_id)
    if u is None or u.disabled:
        raise RefreshRefused("this account is disabled")
    account = _account(db, u)
    return account, open_session(db, account, "refresh", family=row.family)


def revoke(db: Db, token: str) -> None:
    db.execute(
        update(Session)
        .where(Session.token_sha256 == digest(token), Session.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def revoke_all(db: Db, user_id: int) -> None:
    db.execute(
        update(Session)
        .where(Session.user_id == user_id, Session.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def access_claims(account: Account) -> dict[str, Any]:
    return {
        "sub": account.id,
        "name": account.username,
        "role": account.role,
        "stores": list(account.stores) if account.role == STORE_MANAGER else [],
    }


def attempt(database: Database, username: str, password: str) -> Account:
    """sign_in in a transaction of its own that commits a failure's count and lock too (a
    refusal raised inside the request's transaction would roll them back)."""
    with database.transaction() as s:
        try:
            return sign_in(s, username, password)
        except AccountError as refused:
            err = refused
    raise err


def spend_refresh(database: Database, token: str) -> tuple[Account, str]:
    """refresh() in a transaction of its own that commits a reuse's family revocation even
    though the caller is refused."""
    with database.transaction() as s:
        try:
            return refresh(s, token)
        except AccountError as refused:
            err = refused
    raise err
