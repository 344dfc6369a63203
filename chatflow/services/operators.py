"""Console operators: accounts (Argon2id password hashes) and their browser sessions.

A session is a random token in an HttpOnly, SameSite=Strict cookie (only its sha256 is
stored) plus a CSRF token of its own that the console sends back in a header on every
write (the synchronizer-token pattern). The first operator is made by
`chatflow admin create`; there is no sign-up.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select

from chatflow.errors import InvalidRequest, Unauthorized
from chatflow.store import Database
from chatflow.store._types import utcnow
from chatflow.store.models import Operator, OperatorSession

_HASHER = PasswordHasher()  # argon2id with the library's current (RFC 9106) parameters
# Compared against when the username is unknown, so both failures take as long.
_DUMMY_HASH = _HASHER.hash(secrets.token_hex(8))
MIN_PASSWORD = 8


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    operator_id: str
    username: str
    csrf_token: str


class OperatorService:
    def __init__(self, db: Database, *, session_hours: float = 12.0) -> None:
        self._db = db
        self._ttl = timedelta(hours=session_hours)

    @property
    def session_seconds(self) -> int:
        return int(self._ttl.total_seconds())

    async def create(self, username: str, password: str) -> str:
        """A new operator; its id."""
        username = username.strip()
        if not username or len(username) > 64:
            raise InvalidRequest("username: 1 to 64 characters")
        if len(password) < MIN_PASSWORD:
            raise InvalidRequest(f"password: at least {MIN_PASSWORD} characters")
        async with self._db.session() as session:
            taken = await session.scalar(select(Operator).where(Operator.username == username))
            if taken is not None:
                raise InvalidRequest(f"operator {username!r} already exists")
            row = Operator(username=username, password_hash=_HASHER.hash(password))
            session.add(row)
            await session.flush()
            return row.id

    async def sign_in(self, username: str, password: str) -> tuple[str, ConsoleSession]:
        """(cookie token, session) for a right username and password; 401 otherwise."""
        async with self._db.session() as session:
            row = await session.scalar(select(Operator).where(Operator.username == username))
            try:
                _HASHER.verify(row.password_hash if row else _DUMMY_HASH, password)
            except (VerificationError, InvalidHashError):
                row = None
            if row is None:
                raise Unauthorized("Wrong username or password.", code="invalid_credentials")
            if _HASHER.check_needs_rehash(row.password_hash):
                row.password_hash = _HASHER.hash(password)
            token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            session.add(
                OperatorSession(
                    operator_id=row.id,
                    token_hash=_sha(token),
                    csrf_token=csrf,
                    expires_at=utcnow() + self._ttl,
                )
            )
            return token, ConsoleSession(row.id, row.username, csrf)

    async def authenticate(self, token: str | None) -> ConsoleSession:
        if not token:
            raise Unauthorized("Sign in to the console.", code="console_login_required")
        async with self._db.session() as session:
            found = (
                await session.execute(
                    select(OperatorSession, Operator)
                    .join(Operator, Operator.id == OperatorSession.operator_id)
                    .where(
                        OperatorSession.token_hash == _sha(token),
                        OperatorSession.expires_at > utcnow(),
                    )
                )
            ).one_or_none()
        if found is None:
            raise Unauthorized("Sign in to the console.", code="console_login_required")
        row, operator = found
        return ConsoleSession(operator.id, operator.username, row.csrf_token)

    async def sign_out(self, token: str) -> None:
        async with self._db.session() as session:
            await session.execute(
                delete(OperatorSession).where(OperatorSession.token_hash == _sha(token))
            )
