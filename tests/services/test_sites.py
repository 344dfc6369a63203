"""`SiteService` over in-memory SQLite: a site's publication, passcode and operator-login
rules, the sessions a sign-in opens (scoped to one site, ended by a passcode change or a
disable, expiring), and the per-site bound on wrong passcodes."""

from __future__ import annotations

import pytest

from chatflow.errors import NotFound, Unauthorized
from chatflow.services import Services
from chatflow.services.apps import LoadedApp
from chatflow.services.sites import (
    PASSCODE_TRIES,
    OperatorLoginRequired,
    PasscodeRequired,
    SiteService,
    TooManyTries,
    check_passcode,
    hash_passcode,
)

from .conftest import ECHO, load


async def test_a_site_is_published_once_and_a_session_reaches_only_its_own_site(
    services: Services, echo: LoadedApp
) -> None:
    sites = services.sites
    site = await sites.ensure(echo.id)
    assert site.enabled and not site.has_passcode and not site.operator_login
    assert (await sites.ensure(echo.id)).code == site.code  # not a second site

    token = await sites.sign_in(site.code, None)
    user = await sites.authenticate(site.code, token)
    assert user.app.id == echo.id and user.user.startswith("web-")
    assert (await sites.authenticate(site.code, await sites.sign_in(site.code, None))).user != (
        user.user
    )  # every browser is its own end user

    other_app = await load(services, ECHO.replace("name: echo", "name: other"))
    other = await sites.ensure(other_app.id)
    with pytest.raises(Unauthorized):
        await sites.authenticate(other.code, token)  # another site's cookie
    for missing in (None, "", "not-a-token"):
        with pytest.raises(Unauthorized):
            await sites.authenticate(site.code, missing)
    with pytest.raises(NotFound):
        await sites.open_site("no-such-code")


async def test_a_disabled_site_is_gone_and_its_sessions_end(
    services: Services, echo: LoadedApp
) -> None:
    sites = services.sites
    site = await sites.ensure(echo.id)
    token = await sites.sign_in(site.code, None)
    await sites.configure(echo.id, enabled=False)
    for call in (sites.open_site(site.code), sites.sign_in(site.code, None)):
        with pytest.raises(NotFound) as caught:
            await call
        assert caught.value.code == "site_not_found"
    await sites.configure(echo.id, enabled=True)
    with pytest.raises(Unauthorized):  # signed out by the disable, not restored
        await sites.authenticate(site.code, token)


async def test_a_passcode_is_required_checked_and_changing_it_signs_everyone_out(
    services: Services, echo: LoadedApp
) -> None:
    sites = services.sites
    site = await sites.ensure(echo.id)
    before = await sites.sign_in(site.code, None)
    info = await sites.configure(echo.id, passcode="open sesame")
    assert info.has_passcode
    with pytest.raises(Unauthorized):
        await sites.authenticate(site.code, before)
    with pytest.raises(PasscodeRequired):
        await sites.sign_in(site.code, None)
    with pytest.raises(PasscodeRequired, match="not right"):
        await sites.sign_in(site.code, "open sesam")
    after = await sites.sign_in(site.code, "open sesame")
    assert (await sites.authenticate(site.code, after)).app.id == echo.id

    # Toggling show_workflow_steps alone keeps sessions; clearing the passcode opens it.
    await sites.configure(echo.id, show_workflow_steps=False)
    await sites.authenticate(site.code, after)
    assert not (await sites.configure(echo.id, clear_passcode=True)).has_passcode
    await sites.sign_in(site.code, None)


async def test_wrong_passcodes_are_bounded_per_site(services: Services, echo: LoadedApp) -> None:
    sites = services.sites
    site = await sites.ensure(echo.id)
    await sites.configure(echo.id, passcode="right-one")
    for _ in range(PASSCODE_TRIES):
        with pytest.raises(PasscodeRequired):
            await sites.sign_in(site.code, "wrong")
    with pytest.raises(TooManyTries) as caught:  # even the right one, until the window ends
        await sites.sign_in(site.code, "right-one")
    assert caught.value.status == 429
    other_app = await load(services, ECHO.replace("name: echo", "name: other"))
    other = await sites.ensure(other_app.id)
    await sites.sign_in(other.code, None)  # another site is not locked
    sites.forget_failures(site.code)
    await sites.sign_in(site.code, "right-one")


async def test_an_operator_login_site_opens_only_to_operators(
    services: Services, echo: LoadedApp
) -> None:
    sites = services.sites
    site = await sites.ensure(echo.id)
    anonymous = await sites.sign_in(site.code, None)
    await sites.configure(echo.id, operator_login=True)
    with pytest.raises(Unauthorized):  # the switch signed the anonymous browser out
        await sites.authenticate(site.code, anonymous)
    with pytest.raises(OperatorLoginRequired):
        await sites.sign_in(site.code, None)
    first = await sites.sign_in(site.code, None, operator_id="op-1")
    second = await sites.sign_in(site.code, None, operator_id="op-1")
    users = {(await sites.authenticate(site.code, t)).user for t in (first, second)}
    assert users == {"operator-op-1"}  # one end user on every browser
    # Setting it again while on does not sign operators out.
    await sites.configure(echo.id, operator_login=True)
    await sites.authenticate(site.code, first)


async def test_an_expired_session_no_longer_authenticates(
    services: Services, echo: LoadedApp
) -> None:
    expired = SiteService(services.db, services.apps, session_days=-1)
    site = await expired.ensure(echo.id)
    token = await expired.sign_in(site.code, None)
    with pytest.raises(Unauthorized):
        await expired.authenticate(site.code, token)


def test_a_passcode_hash_is_salted_and_checks_only_its_passcode() -> None:
    first, second = hash_passcode("1234"), hash_passcode("1234")
    assert first != second and "1234" not in first
    assert check_passcode("1234", first) and check_passcode("1234", second)
    assert not check_passcode("12345", first)
