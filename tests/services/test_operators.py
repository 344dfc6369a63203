"""`OperatorService` over in-memory SQLite: accounts, password sign-in, console sessions
(each with its own CSRF token), expiry and sign-out."""

from __future__ import annotations

import pytest

from chatflow.errors import InvalidRequest, Unauthorized
from chatflow.services import Services
from chatflow.services.operators import MIN_PASSWORD, OperatorService


async def test_an_operator_signs_in_and_out(services: Services) -> None:
    operators = services.operators
    operator_id = await operators.create("  admin ", "correct horse")
    token, session = await operators.sign_in("admin", "correct horse")  # name was stripped
    assert (session.operator_id, session.username) == (operator_id, "admin")
    assert await operators.authenticate(token) == session

    token2, session2 = await operators.sign_in("admin", "correct horse")
    assert token2 != token and session2.csrf_token != session.csrf_token
    await operators.sign_out(token)
    with pytest.raises(Unauthorized) as caught:
        await operators.authenticate(token)
    assert caught.value.code == "console_login_required"
    assert await operators.authenticate(token2) == session2  # the other browser stays


async def test_wrong_credentials_and_missing_tokens_are_401(services: Services) -> None:
    operators = services.operators
    await operators.create("admin", "correct horse")
    for username, password in (("admin", "wrong horse"), ("nobody", "correct horse")):
        with pytest.raises(Unauthorized) as caught:
            await operators.sign_in(username, password)
        assert caught.value.code == "invalid_credentials"
    for token in (None, "", "forged"):
        with pytest.raises(Unauthorized):
            await operators.authenticate(token)


async def test_account_rules(services: Services) -> None:
    operators = services.operators
    await operators.create("admin", "x" * MIN_PASSWORD)
    for username, password in (
        ("admin", "y" * MIN_PASSWORD),  # taken
        ("   ", "y" * MIN_PASSWORD),
        ("u" * 65, "y" * MIN_PASSWORD),
        ("other", "y" * (MIN_PASSWORD - 1)),
    ):
        with pytest.raises(InvalidRequest):
            await operators.create(username, password)


async def test_an_expired_session_is_refused(services: Services) -> None:
    expired = OperatorService(services.db, session_hours=-1)
    await expired.create("admin", "correct horse")
    token, _ = await expired.sign_in("admin", "correct horse")
    with pytest.raises(Unauthorized):
        await expired.authenticate(token)
    assert expired.session_seconds < 0
