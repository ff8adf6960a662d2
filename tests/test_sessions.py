"""People's sessions: sign in for an HttpOnly, SameSite cookie; writes made with it send
the CSRF token; a disabled account or a new password ends its sessions within a second;
failed sign-ins pause the name at that address."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from gridgis.credentials import hash_password, new_user
from tests.conftest import DEMO, City, Server

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def server(city: City) -> Iterator[Server]:
    settings = city.settings.model_copy(update={"login_attempts": 3, "public_rate": 0})
    with Server(settings) as srv:
        yield srv


def _sign_in(http: httpx.Client, name: str, password: str = PASSWORD) -> httpx.Response:
    return http.post("/api/session", json={"name": name, "password": password})


def test_a_person_signs_in_and_writes_with_the_csrf_token(server: Server, city: City) -> None:
    new_user(city.store, "网格员甲", PASSWORD, "editor", actor="test")
    code = str(city.store.read_grids(DEMO)["code"].iloc[0])
    with httpx.Client(base_url=server.url, timeout=30) as http:
        signed = _sign_in(http, "网格员甲")
        assert signed.status_code == 200, signed.text
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        csrf = signed.json()["csrf"]
        assert http.get("/api/session").json()["user"]["name"] == "网格员甲"
        assert http.get("/api/versions").status_code == 200  # viewer reads come with it
        tag = http.get(f"/api/grids/{code}").headers["etag"]
        patch = {"Content-Type": "application/merge-patch+json", "If-Match": tag}
        body = {"properties": {"party_branch": "第一支部"}}
        forged = http.patch(f"/api/grids/{code}", json=body, headers=patch)
        assert forged.status_code == 403 and forged.json()["code"] == "csrf_failed"
        done = http.patch(f"/api/grids/{code}", json=body, headers={**patch, "X-CSRF-Token": csrf})
        assert done.status_code == 200, done.text
        assert city.store.read_audit(1)[0].actor == "user:网格员甲"
        assert http.delete("/api/session").status_code == 204
        http.cookies.clear()
        assert http.get("/api/session").json()["user"] is None


def test_disabling_or_a_new_password_ends_the_sessions(server: Server, city: City) -> None:
    new_user(city.store, "网格员乙", PASSWORD, "viewer", actor="test")
    with httpx.Client(base_url=server.url, timeout=30) as http:
        assert _sign_in(http, "网格员乙").status_code == 200
        city.store.change_user("网格员乙", "test", password_hash=hash_password("another one!"))
        changed = time.monotonic()
        while http.get("/api/versions").status_code == 200:
            assert time.monotonic() - changed < 1.0
            time.sleep(0.02)
        assert http.get("/api/versions").status_code == 401
        assert _sign_in(http, "网格员乙").status_code == 401  # the old password
        assert _sign_in(http, "网格员乙", "another one!").status_code == 200
        city.store.change_user("网格员乙", "test", disabled=True)
        time.sleep(0.8)
        assert http.get("/api/versions").status_code == 401
        assert _sign_in(http, "网格员乙", "another one!").status_code == 401


def test_failed_sign_ins_pause_the_name(server: Server, city: City) -> None:
    new_user(city.store, "网格员丙", PASSWORD, "viewer", actor="test")
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for _ in range(3):
            answer = _sign_in(http, "网格员丙", "wrong password")
            assert answer.status_code == 401 and answer.json()["code"] == "invalid_login"
        paused = _sign_in(http, "网格员丙")  # even the right password, for now
        assert paused.status_code == 429 and int(paused.headers["retry-after"]) > 0
        assert _sign_in(http, "无此人", "wrong password").status_code == 401
        # Many names from one address: paused too, after four times the per-name limit.
        statuses = [_sign_in(http, f"name-{n}", "wrong password").status_code for n in range(12)]
        assert statuses[-1] == 429 and 401 in statuses
