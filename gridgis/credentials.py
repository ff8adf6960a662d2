"""Who may do what: API keys for systems, accounts for people, one set of roles and scopes.

A key reads ``ggk_`` + an 8-character lookup id + 32 random characters + a 6-character
checksum (base62, as GitHub's tokens do), so a leaked key is recognisable in a log or a
repository, and a mistyped one is refused without a store lookup. The store keeps the
id and the SHA-256 of the whole key, never the key: keys are long random strings, so a
slow hash buys nothing there. People's passwords are short and chosen: argon2id.

Roles nest (viewer < editor < admin). Scopes are division codes (a subdistrict's 9 or a
community's 12 digits): grid codes begin with their community's code, so a grid is in a
scope when its code begins with one of the scope's codes; no scope means the whole city.
A key bound to origins is an *embedding* key: it stands in a browser page for everyone
to read, so it opens only what the public map shows, never data in bulk.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from gridgis.clock import utcnow
from gridgis.errors import InputError

PREFIX = "ggk_"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ID_LENGTH = 8
SECRET_LENGTH = 32
CHECK_LENGTH = 6
KEY_LENGTH = len(PREFIX) + ID_LENGTH + SECRET_LENGTH + CHECK_LENGTH
_KEY = re.compile(rf"^{PREFIX}[0-9A-Za-z]{{{ID_LENGTH + SECRET_LENGTH + CHECK_LENGTH}}}$")
_SCOPE = re.compile(r"^\d{6,12}$")
_USER = re.compile(r"^[^\s:/]{1,64}$")


class Role(IntEnum):
    """What a credential may do; each includes the ones below it."""

    viewer = 1
    editor = 2
    admin = 3


def _base62(number: int, width: int) -> str:
    out = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        out.append(ALPHABET[digit])
    return "".join(reversed(out))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), CHECK_LENGTH)


def new_key() -> tuple[str, str]:
    """A fresh key and its lookup id."""
    ident = "".join(secrets.choice(ALPHABET) for _ in range(ID_LENGTH))
    secret = "".join(secrets.choice(ALPHABET) for _ in range(SECRET_LENGTH))
    body = PREFIX + ident + secret
    return body + _checksum(body), ident


def key_id(key: str) -> str | None:
    """The lookup id of a well-formed key whose checksum holds; ``None`` otherwise."""
    if len(key) != KEY_LENGTH or not _KEY.match(key):
        return None
    body, check = key[:-CHECK_LENGTH], key[-CHECK_LENGTH:]
    if not hmac.compare_digest(_checksum(body), check):
        return None
    return key[len(PREFIX) : len(PREFIX) + ID_LENGTH]


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def check_scopes(codes: Iterable[str]) -> tuple[str, ...]:
    """Scopes as given on the command line: division codes, 6 to 12 digits."""
    out = []
    for code in codes:
        code = str(code).strip()
        if not _SCOPE.match(code):
            raise InputError(
                f"scope {code!r} is not a division code (a subdistrict's 9 or a community's "
                "12 digits)",
                param="scope",
                code="invalid_scope",
            )
        out.append(code)
    return tuple(dict.fromkeys(out))


def check_origins(origins: Iterable[str]) -> tuple[str, ...]:
    out = []
    for origin in origins:
        origin = str(origin).strip().rstrip("/")
        if not re.match(r"^https?://[^/\s?#]+$", origin):
            raise InputError(
                f"origin {origin!r} is not scheme://host[:port], e.g. https://oa.example.gov.cn",
                param="origin",
                code="invalid_origin",
            )
        out.append(origin)
    return tuple(dict.fromkeys(out))


def check_user_name(name: str) -> str:
    if not _USER.match(name):
        raise InputError(
            "a user name is 1 to 64 characters, without spaces, ':' or '/'",
            param="name",
            code="invalid_user_name",
        )
    return name


def parse_role(text: str) -> Role:
    try:
        return Role[text]
    except KeyError:
        raise InputError(
            f"role must be one of {', '.join(r.name for r in Role)}, not {text!r}",
            param="role",
            code="invalid_role",
        ) from None


def in_scope(code: str, scopes: Sequence[str]) -> bool:
    """Whether a grid (or community) code lies inside the scopes; none means everywhere."""
    return not scopes or any(code.startswith(s) for s in scopes)


def require_in_scope(codes: Iterable[str], scopes: Sequence[str], doing: str) -> None:
    """Refuse (403) a change that touches a grid outside the caller's scopes."""
    if not scopes:
        return
    outside = sorted({c for c in codes if not in_scope(c, scopes)})
    if outside:
        from gridgis.errors import ForbiddenError

        raise ForbiddenError(
            f"{doing} would change {', '.join(outside[:5])}"
            f"{' …' if len(outside) > 5 else ''}, outside your scope ({', '.join(scopes)})",
            code="outside_scope",
        )


@dataclass(frozen=True)
class ApiKey:
    """A key as the store keeps it (its hash, never the key)."""

    id: str
    name: str
    role: Role
    hash: str
    scopes: tuple[str, ...] = ()
    origins: tuple[str, ...] = ()
    created: datetime | None = None
    created_by: str | None = None
    expires: datetime | None = None
    revoked: datetime | None = None

    @property
    def embedding(self) -> bool:
        return bool(self.origins)

    def usable(self, now: datetime) -> bool:
        return self.revoked is None and (self.expires is None or now < self.expires)

    def to_dict(self) -> dict[str, Any]:
        """What ``keys list`` shows: everything but the hash."""
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role.name,
            "scopes": list(self.scopes),
            "origins": list(self.origins),
            "created": _iso(self.created),
            "created_by": self.created_by,
            "expires": _iso(self.expires),
            "revoked": _iso(self.revoked),
        }


@dataclass(frozen=True)
class User:
    """A person's account; ``epoch`` grows with each new password or disabling, which
    ends every session signed before."""

    name: str
    role: Role
    password_hash: str
    scopes: tuple[str, ...] = ()
    disabled: bool = False
    epoch: int = 0
    created: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role.name,
            "scopes": list(self.scopes),
            "disabled": self.disabled,
            "created": _iso(self.created),
        }


@dataclass(frozen=True)
class Principal:
    """Who a request speaks for, once its credential checked out."""

    kind: str  # "key" or "user"
    ident: str  # the key's id or the user's name
    name: str
    role: Role
    scopes: tuple[str, ...] = ()
    origins: tuple[str, ...] = ()

    @property
    def embedding(self) -> bool:
        return bool(self.origins)

    @property
    def actor(self) -> str:
        """The name the audit log records: which key (its id, never the key) or user."""
        return f"key:{self.ident}" if self.kind == "key" else f"user:{self.ident}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.ident,
            "name": self.name,
            "role": self.role.name,
            "scopes": list(self.scopes),
        }


def key_principal(key: ApiKey) -> Principal:
    return Principal("key", key.id, key.name, key.role, key.scopes, key.origins)


def user_principal(user: User) -> Principal:
    return Principal("user", user.name, user.name, user.role, user.scopes)


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


# --- making them ---------------------------------------------------------------------------
MIN_PASSWORD = 10
_hasher: Any = None


def _argon2() -> Any:
    global _hasher
    if _hasher is None:
        from argon2 import PasswordHasher

        _hasher = PasswordHasher()  # argon2id, the library's (RFC 9106) defaults
    return _hasher


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InputError(
            f"a password has at least {MIN_PASSWORD} characters", param="password", code="weak"
        )
    return str(_argon2().hash(password))


def password_matches(password_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(_argon2().verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def issue_key(
    store: Any,
    role: str,
    *,
    actor: str,
    scopes: Iterable[str] = (),
    origins: Iterable[str] = (),
    expires: datetime | None = None,
    name: str | None = None,
) -> tuple[str, ApiKey]:
    """Make a key and keep its hash; the key itself is returned once, here."""
    parsed = parse_role(role)
    bound = check_origins(origins)
    if bound and parsed is not Role.viewer:
        raise InputError(
            "a key bound to origins stands in a web page for everyone to read: it can only "
            "be a viewer",
            param="origin",
            code="embedding_key_reads",
        )
    if expires is not None:
        expires = expires if expires.tzinfo else expires.replace(tzinfo=UTC)
        if expires <= utcnow():
            raise InputError("the key would expire in the past", param="expires")
    key, ident = new_key()
    record = ApiKey(
        id=ident,
        name=name or f"{parsed.name} key",
        role=parsed,
        hash=key_hash(key),
        scopes=check_scopes(scopes),
        origins=bound,
        expires=expires,
    )
    return key, store.create_key(record, actor)


def new_user(
    store: Any,
    name: str,
    password: str,
    role: str,
    *,
    actor: str,
    scopes: Iterable[str] = (),
) -> User:
    user = User(
        name=check_user_name(name),
        role=parse_role(role),
        password_hash=hash_password(password),
        scopes=check_scopes(scopes),
    )
    created: User = store.create_user(user, actor)
    return created
