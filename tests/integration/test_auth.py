"""Staff login, logout, sessions, CSRF and throttling through the real pages."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import update

from server.identity import STAFF_COOKIE
from server.keys import sessionmaker_key
from server.models import LoginThrottle, StaffSession, utcnow
from tests.helpers.factories import PASSWORD, make_staff
from tests.helpers.web import MakeClient, csrf_from, login


def use_cookie(client: TestClient[Any, Any], value: str) -> None:
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({STAFF_COOKIE: value})


async def _login_form(client: TestClient[Any, Any]) -> str:
    return csrf_from(await (await client.get("/login")).text())


async def _post_login(
    client: TestClient[Any, Any], email: str, password: str, headers: dict[str, str] | None = None, **extra: str
) -> Any:
    token = await _login_form(client)
    data = {"email": email, "password": password, "csrf_token": token, **extra}
    return await client.post("/login", data=data, headers=headers, allow_redirects=False)


async def test_login_sets_an_httponly_session_and_logout_ends_it(client: TestClient[Any, Any]) -> None:
    staff = await make_staff(client.app)
    response = await _post_login(client, staff.email.upper(), PASSWORD, next="/console")
    assert response.status == 303
    assert response.headers["Location"] == "/console"
    cookie = response.cookies[STAFF_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    console = await client.get("/console")
    assert console.status == 200
    assert staff.name in await console.text()

    csrf = csrf_from(await console.text())
    out = await client.post("/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert out.status == 303
    # The old session id no longer works even if a copy of the cookie was kept.
    use_cookie(client, cookie.value)
    again = await client.get("/console", allow_redirects=False)
    assert again.status == 303 and again.headers["Location"].startswith("/login")


async def test_the_session_id_rotates_at_login(client: TestClient[Any, Any]) -> None:
    staff = await make_staff(client.app)
    first = (await _post_login(client, staff.email, PASSWORD)).cookies[STAFF_COOKIE].value
    second = (await _post_login(client, staff.email, PASSWORD)).cookies[STAFF_COOKIE].value
    assert first != second
    use_cookie(client, first)
    assert (await client.get("/console", allow_redirects=False)).status == 303


async def test_wrong_password_shows_the_form_again(client: TestClient[Any, Any]) -> None:
    staff = await make_staff(client.app)
    response = await _post_login(client, staff.email, "wrong password!")
    assert response.status == 401
    text = await response.text()
    assert 'role="alert"' in text and "Email o password non corrette" in text
    assert STAFF_COOKIE not in response.cookies
    unknown = await _post_login(client, "nobody@example.org", "wrong password!")
    assert unknown.status == 401


async def test_login_without_csrf_token_is_refused(client: TestClient[Any, Any]) -> None:
    staff = await make_staff(client.app)
    response = await client.post("/login", data={"email": staff.email, "password": PASSWORD}, allow_redirects=False)
    assert response.status == 403
    assert "Non è possibile aprire questa pagina" in await response.text()


async def test_state_changing_forms_need_the_session_csrf_token(client: TestClient[Any, Any]) -> None:
    staff = await make_staff(client.app)
    csrf = await login(client, staff)
    data = {"citizen_name": "Maria"}
    assert (await client.post("/console/consultations", data=data)).status == 403
    assert (await client.post("/console/consultations", data={**data, "csrf_token": "forged"})).status == 403
    cross_site = await client.post(
        "/console/consultations", data={**data, "csrf_token": csrf}, headers={"Origin": "https://evil.example"}
    )
    assert cross_site.status == 403
    # Browsers under Referrer-Policy: no-referrer say "null"; Sec-Fetch-Site tells where the post came from.
    opaque = {"Origin": "null", "Sec-Fetch-Site": "cross-site"}
    assert (
        await client.post("/console/consultations", data={**data, "csrf_token": csrf}, headers=opaque)
    ).status == 403
    ours = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}
    assert (await client.post("/console/consultations", data={**data, "csrf_token": csrf}, headers=ours)).status == 201
    assert (await client.post("/console/consultations", data={**data, "csrf_token": csrf})).status == 201


async def test_failed_logins_are_throttled_per_account(make_client: MakeClient) -> None:
    client = await make_client(login_max_failures=3)
    staff = await make_staff(client.app)
    for _ in range(3):
        assert (await _post_login(client, staff.email, "wrong password!")).status == 401
    throttled = await _post_login(client, staff.email, PASSWORD)  # even the right password waits
    assert throttled.status == 429
    assert int(throttled.headers["Retry-After"]) > 0
    assert "Troppi tentativi" in await throttled.text()


async def test_guesses_at_other_accounts_from_the_same_address_do_not_lock_a_colleague_out(
    make_client: MakeClient,
) -> None:
    client = await make_client(login_max_failures=3)
    staff = await make_staff(client.app)
    for n in range(4):
        assert (await _post_login(client, f"guess{n}@example.org", "wrong password!")).status == 401
    assert (await _post_login(client, staff.email, PASSWORD)).status == 303


async def test_a_colleague_behind_the_same_address_logs_in_while_another_account_waits(
    make_client: MakeClient,
) -> None:
    client = await make_client(login_max_failures=3)
    attacked, colleague = await make_staff(client.app), await make_staff(client.app)
    for _ in range(3):
        assert (await _post_login(client, attacked.email, "wrong password!")).status == 401
    assert (await _post_login(client, attacked.email, "wrong password!")).status == 429
    assert (await _post_login(client, colleague.email, PASSWORD)).status == 303


async def test_one_address_spraying_many_accounts_meets_a_ceiling(make_client: MakeClient) -> None:
    client = await make_client(login_max_failures=1)  # the address alone allows 20 times as many
    for n in range(20):
        assert (await _post_login(client, f"guess{n}@example.org", "wrong password!")).status == 401
    assert (await _post_login(client, "guess20@example.org", "wrong password!")).status == 429


async def test_parallel_wrong_passwords_are_checked_at_most_up_to_the_threshold(make_client: MakeClient) -> None:
    client = await make_client(login_max_failures=5)
    staff = await make_staff(client.app)
    token = await _login_form(client)
    data = {"email": staff.email, "password": "wrong password!", "csrf_token": token}
    responses = await asyncio.gather(*(client.post("/login", data=data) for _ in range(40)))
    statuses = [response.status for response in responses]
    assert set(statuses) <= {401, 429}, statuses
    assert statuses.count(401) <= 5  # only these reached the password check


async def test_concurrent_first_failures_answer_401_or_429_never_500(make_client: MakeClient) -> None:
    client = await make_client()
    token = await _login_form(client)
    for n in range(5):  # a few rounds: the race is between two first failures of one account
        data = {"email": f"guess{n}@example.org", "password": "wrong password!", "csrf_token": token}
        responses = await asyncio.gather(client.post("/login", data=data), client.post("/login", data=data))
        assert {response.status for response in responses} <= {401, 429}


async def test_a_right_password_after_the_wait_logs_in(make_client: MakeClient) -> None:
    client = await make_client(login_max_failures=2)
    staff = await make_staff(client.app)
    for _ in range(2):
        assert (await _post_login(client, staff.email, "wrong password!")).status == 401
    assert (await _post_login(client, staff.email, PASSWORD)).status == 429
    async with client.app[sessionmaker_key].begin() as db:  # the wait is over (the schedule has its own test)
        await db.execute(update(LoginThrottle).values(waits_until=utcnow() - timedelta(seconds=1)))
    assert (await _post_login(client, staff.email, PASSWORD)).status == 303


async def test_a_trusted_proxys_forwarded_for_is_the_address_and_an_untrusted_peers_is_not(
    make_client: MakeClient,
) -> None:
    trusted = await make_client(login_max_failures=2, trusted_proxies=("127.0.0.0/8",))
    staff = await make_staff(trusted.app)
    guesser, owner = {"X-Forwarded-For": "198.51.100.1"}, {"X-Forwarded-For": "203.0.113.9"}
    for _ in range(2):
        assert (await _post_login(trusted, staff.email, "wrong password!", headers=guesser)).status == 401
    assert (await _post_login(trusted, staff.email, PASSWORD, headers=guesser)).status == 429
    assert (await _post_login(trusted, staff.email, PASSWORD, headers=owner)).status == 303

    untrusted = await make_client(login_max_failures=2)  # no trusted proxies: the header is anybody's to write
    staff = await make_staff(untrusted.app)
    for _ in range(2):
        assert (await _post_login(untrusted, staff.email, "wrong password!", headers=guesser)).status == 401
    assert (await _post_login(untrusted, staff.email, PASSWORD, headers=owner)).status == 429


async def _age_sessions(client: TestClient[Any, Any], **delta: timedelta) -> None:
    async with client.app[sessionmaker_key].begin() as db:
        values = {name: utcnow() - age for name, age in delta.items()}
        await db.execute(update(StaffSession).values(**values))


async def test_idle_sessions_expire(client: TestClient[Any, Any]) -> None:
    await login(client, await make_staff(client.app))
    await _age_sessions(client, last_seen_at=timedelta(minutes=31))
    assert (await client.get("/console", allow_redirects=False)).status == 303


async def test_sessions_expire_after_twelve_hours_even_when_active(client: TestClient[Any, Any]) -> None:
    await login(client, await make_staff(client.app))
    await _age_sessions(client, created_at=timedelta(hours=12, minutes=1), last_seen_at=timedelta(0))
    assert (await client.get("/console", allow_redirects=False)).status == 303


async def test_login_never_redirects_off_site(client: TestClient[Any, Any]) -> None:
    staff = await make_staff(client.app)
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = await _post_login(client, staff.email, PASSWORD, next=target)
        assert response.headers["Location"] == "/console"


async def test_pages_need_a_session(client: TestClient[Any, Any]) -> None:
    response = await client.get("/console/consultations/abc", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/login?next=/console/consultations/abc"
