"""The keys and accounts a server checks requests against, held in memory.

Checking a key is a dictionary lookup and one SHA-256, never a query: the tables are
read again every ``GRIDGIS_CREDENTIALS_REFRESH_SECONDS`` (half a second by default) by
a background thread, so a key revoked on one worker is refused by every worker within a
second. If the store does not answer, the last tables read stay in force.

People sign in for a session cookie: ``payload.signature``, the payload naming the user,
the account's epoch (a new password or disabling ends older sessions) and when it was
signed, the signature an HMAC with a secret the store keeps for every worker.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy.exc import OperationalError

from api.ratelimit import Attempts
from gridgis.clock import utcnow
from gridgis.credentials import (
    ApiKey,
    Principal,
    User,
    key_hash,
    key_id,
    key_principal,
    user_principal,
)
from gridgis.settings import Settings
from gridgis.store import SqlStore
from gridgis.watch import Watcher

log = logging.getLogger(__name__)
SESSION_COOKIE = "gridgis_session"
CSRF_HEADER = b"x-csrf-token"
ADDRESS_FACTOR = 4  # failed sign-ins one address may make, over those per name


@dataclass
class Tables:
    keys: dict[str, ApiKey] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    #: Origins some usable embedding key serves: their pages may send it (CORS).
    origins: frozenset[str] = frozenset()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Session:
    principal: Principal
    csrf: str  # what a write made with this session sends in X-CSRF-Token


class Credentials:
    def __init__(self, store: SqlStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.tables = Tables()
        self._secret: bytes | None = settings.secret_key.encode() if settings.secret_key else None
        self._watcher = Watcher(
            self.refresh, settings.credentials_refresh_seconds, "gridgis-credentials"
        )
        self._warned = False
        self._verified: dict[str, tuple[Tables, Principal, float | None]] = {}
        self.attempts = Attempts(settings.login_attempts, settings.login_pause_seconds)
        # And per address whatever the name, so that trying many names (each an argon2
        # check, about 50 ms of CPU) pauses too.
        self.address_attempts = Attempts(
            settings.login_attempts * ADDRESS_FACTOR, settings.login_pause_seconds
        )

    def start(self) -> None:
        try:
            self.refresh()
        except OperationalError:
            log.warning("credentials: the store does not answer; no key will check out yet")
        self._watcher.start()

    def stop(self) -> None:
        self._watcher.stop()

    def refresh(self) -> None:
        try:
            keys = {k.id: k for k in self.store.list_keys()}
            users = {u.name: u for u in self.store.list_users()}
        except OperationalError:
            if not self._warned:
                log.warning("credentials: the store does not answer; keeping the last tables")
                self._warned = True
            return
        self._warned = False
        now = utcnow()
        origins = frozenset(o for k in keys.values() if k.usable(now) for o in k.origins)
        self.tables = Tables(keys, users, origins)

    # --- keys -------------------------------------------------------------------------------
    def key(self, key: str) -> Principal | None:
        """The principal of a key that checks out now; ``None`` for any other string.

        A key that checked out is remembered with the tables it was checked against, so a
        system sending the same key thousands of times a second pays a dictionary lookup;
        the next tables read (a revocation) forget it."""
        tables = self.tables  # one read: a refresh meanwhile must not bless an old answer
        hit = self._verified.get(key)
        if hit is not None and hit[0] is tables and (hit[2] is None or time.time() < hit[2]):
            return hit[1]
        found = self._check(key, tables)
        if found is not None:
            record = tables.keys[found.ident]
            expires = None if record.expires is None else record.expires.timestamp()
            if len(self._verified) > 10_000:
                self._verified.clear()
            self._verified[key] = (tables, found, expires)
        return found

    @staticmethod
    def _check(key: str, tables: Tables) -> Principal | None:
        ident = key_id(key)
        if ident is None:
            return None
        found = tables.keys.get(ident)
        if found is None or not hmac.compare_digest(found.hash, key_hash(key)):
            return None
        if not found.usable(utcnow()):
            return None
        return key_principal(found)

    # --- sessions ---------------------------------------------------------------------------
    @property
    def secret(self) -> bytes:
        if self._secret is None:
            self._secret = self.store.server_secret("session").encode()
        return self._secret

    def _sign(self, payload: bytes) -> str:
        return _b64(hmac.new(self.secret, payload, hashlib.sha256).digest())

    def sign_in(self, user: User) -> tuple[str, str]:
        """A session cookie's value for the user, and its CSRF token."""
        nonce = secrets.token_urlsafe(12)
        payload = orjson.dumps({"u": user.name, "e": user.epoch, "t": int(time.time()), "n": nonce})
        value = f"{_b64(payload)}.{self._sign(payload)}"
        return value, self.csrf_of(value)

    def csrf_of(self, cookie: str) -> str:
        return self._sign(b"csrf:" + cookie.encode())

    def session(self, cookie: str) -> Session | None:
        """The session a cookie carries, if its signature, age and account check out."""
        head, _, signature = cookie.partition(".")
        try:
            payload = _unb64(head)
        except ValueError:
            return None
        if not hmac.compare_digest(self._sign(payload), signature):
            return None
        try:
            data: dict[str, Any] = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return None
        if time.time() - float(data.get("t", 0)) > self.settings.session_hours * 3600:
            return None
        user = self.tables.users.get(str(data.get("u")))
        if user is None or user.disabled or user.epoch != data.get("e"):
            return None
        return Session(user_principal(user), self.csrf_of(cookie))
