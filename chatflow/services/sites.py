"""Sites: an app's chat page at `/chat/{code}` and the end-user sessions of its browsers.

Like Dify's web app, the page never holds a Service API key. A browser opens a session on
a site (with the site's passcode when it has one) and gets a random token in an HttpOnly
cookie; the server keeps only its sha256, mapped to the app and to a `user` string of its
own (`web-` + random hex). Every web request is scoped to that app and that user, so a
session reaches only its own conversations, messages and files.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from dataclasses import dataclass
from datetime import timedelta

from chatflow.errors import ChatflowError, NotFound, Unauthorized
from chatflow.services.apps import AppService, LoadedApp
from chatflow.store import Database
from chatflow.store import sites as repo
from chatflow.store._types import utcnow
from chatflow.store.models import Site

# scrypt parameters for passcodes (RFC 7914's interactive-use figures, ~16 MiB).
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


# Wrong passcodes allowed per site in a window before sign-ins there answer 429 (per
# worker process: a bound on guessing, not an account lockout).
PASSCODE_TRIES = 10
PASSCODE_WINDOW_SECONDS = 60.0


class TooManyTries(ChatflowError):
    def __init__(self) -> None:
        super().__init__(
            "Too many wrong passcodes; wait a minute.", code="too_many_requests", status=429
        )


class OperatorLoginRequired(ChatflowError):
    """The site is for operators, and the request comes without a console session."""

    def __init__(self) -> None:
        super().__init__(
            "This chat site is for operators: sign in to the console (/console) first.",
            code="operator_login_required",
            status=401,
        )


class PasscodeRequired(ChatflowError):
    """The site has a passcode and none (or a wrong one) was given."""

    def __init__(self, message: str = "This site needs a passcode.") -> None:
        super().__init__(message, code="passcode_required", status=401)


def hash_passcode(passcode: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(passcode.encode("utf-8"), salt=salt, **_SCRYPT)
    return f"{salt.hex()}${digest.hex()}"


def check_passcode(passcode: str, stored: str) -> bool:
    salt, _, expected = stored.partition("$")
    digest = hashlib.scrypt(passcode.encode("utf-8"), salt=bytes.fromhex(salt), **_SCRYPT)
    return hmac.compare_digest(digest.hex(), expected)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class SiteInfo:
    app_id: str
    code: str
    enabled: bool
    has_passcode: bool
    show_workflow_steps: bool
    operator_login: bool = False  # only operators signed in to the console may chat


@dataclass(frozen=True, slots=True)
class WebUser:
    """Who a web request is: the site's app and the session's own `user` string."""

    app: LoadedApp
    site: SiteInfo
    user: str


def _info(site: Site) -> SiteInfo:
    return SiteInfo(
        app_id=site.app_id,
        code=site.code,
        enabled=site.enabled,
        has_passcode=site.passcode_hash is not None,
        show_workflow_steps=site.show_workflow_steps,
        operator_login=bool(site.operator_login),
    )


_GONE = "This chat site does not exist or is not published."


class SiteService:
    def __init__(self, db: Database, apps: AppService, *, session_days: float) -> None:
        self._db = db
        self._apps = apps
        self._session_ttl = timedelta(days=session_days)
        self._failures: dict[str, deque[float]] = {}

    @property
    def session_seconds(self) -> int:
        return int(self._session_ttl.total_seconds())

    async def ensure(self, app_ref: str) -> SiteInfo:
        """The app's site, created (published) on first use; an existing one as it is."""
        app = await self._apps.find(app_ref)
        async with self._db.session() as session:
            site = await repo.get_site(session, app.id)
            if site is None:
                site = await repo.create_site(
                    session, app.id, secrets.token_urlsafe(12), enabled=True
                )
            return _info(site)

    async def configure(
        self,
        app_ref: str,
        *,
        enabled: bool | None = None,
        passcode: str | None = None,
        clear_passcode: bool = False,
        show_workflow_steps: bool | None = None,
        operator_login: bool | None = None,
    ) -> SiteInfo:
        """Turn the site on or off, set or clear its passcode, require an operator's
        console login or not; browsers signed in before a passcode change, a disable or
        the operator login's start must sign in again."""
        app = await self._apps.find(app_ref)
        await self.ensure(app.id)
        async with self._db.session() as session:
            site = await repo.get_site(session, app.id)
            assert site is not None
            if enabled is not None:
                site.enabled = enabled
            if show_workflow_steps is not None:
                site.show_workflow_steps = show_workflow_steps
            if clear_passcode:
                site.passcode_hash = None
            if passcode:
                site.passcode_hash = hash_passcode(passcode)
            newly_closed = operator_login is True and not site.operator_login
            if operator_login is not None:
                site.operator_login = operator_login
            if enabled is False or passcode or newly_closed:
                await repo.end_sessions(session, app.id)
            await session.flush()
            return _info(site)

    async def open_site(self, code: str) -> tuple[SiteInfo, LoadedApp]:
        """A published site and its app; 404 for unknown or disabled codes."""
        async with self._db.session() as session:
            site = await repo.find_site(session, code)
            info = _info(site) if site is not None else None
        if info is None or not info.enabled:
            raise NotFound(_GONE, code="site_not_found")
        return info, await self._apps.find(info.app_id)

    async def sign_in(
        self, code: str, passcode: str | None, *, operator_id: str | None = None
    ) -> str:
        """A new end-user session on the site; its token (for the cookie) is returned once.

        `operator_id`: an operator signed in to the console opens it (the route checks the
        console session); an operator-login site opens no other. The operator is one end
        user on every browser (`operator-ID`), so their conversations follow them."""
        async with self._db.session() as session:
            site = await repo.find_site(session, code)
            if site is None or not site.enabled:
                raise NotFound(_GONE, code="site_not_found")
            if site.operator_login and operator_id is None:
                raise OperatorLoginRequired()
            if site.passcode_hash is not None:
                if not passcode:
                    raise PasscodeRequired()
                failures = self._recent_failures(code)
                if len(failures) >= PASSCODE_TRIES:
                    raise TooManyTries()
                if not check_passcode(passcode, site.passcode_hash):
                    failures.append(time.monotonic())
                    raise PasscodeRequired("The passcode is not right.")
            token = secrets.token_urlsafe(32)
            user = f"operator-{operator_id}" if operator_id else "web-" + secrets.token_hex(12)
            await repo.add_session(
                session, site.app_id, _token_hash(token), user, utcnow() + self._session_ttl
            )
        return token

    def _recent_failures(self, code: str) -> deque[float]:
        failures = self._failures.setdefault(code, deque())
        horizon = time.monotonic() - PASSCODE_WINDOW_SECONDS
        while failures and failures[0] < horizon:
            failures.popleft()
        return failures

    def forget_failures(self, code: str) -> None:
        self._failures.pop(code, None)

    async def authenticate(self, code: str, token: str | None) -> WebUser:
        """The session behind a cookie on this site; 401 when absent, expired or another
        site's."""
        site, app = await self.open_site(code)
        if not token:
            raise Unauthorized("Sign in to this chat site first.", code="web_session_required")
        async with self._db.session() as session:
            row = await repo.find_session(session, _token_hash(token))
            user = row.user if row is not None and row.app_id == app.id else None
        if user is None:
            raise Unauthorized("Sign in to this chat site first.", code="web_session_required")
        return WebUser(app=app, site=site, user=user)
