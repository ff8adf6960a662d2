"""Keys, accounts and the server's secrets in the store, for both backends.

Every change is audited in the same transaction (who made the key, who revoked it),
naming the key by its id and never holding the key itself or a password.
"""

from __future__ import annotations

import secrets
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from gridgis.clock import as_utc, utcnow
from gridgis.credentials import ApiKey, Role, User, check_user_name
from gridgis.errors import ConflictError, NotFoundError
from gridgis.store import schema as t


def _key(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        role=Role[row.role],
        hash=row.hash,
        scopes=tuple(row.scopes or ()),
        origins=tuple(row.origins or ()),
        created=as_utc(row.created),
        created_by=row.created_by,
        expires=as_utc(row.expires),
        revoked=as_utc(row.revoked),
    )


def _user(row: Any) -> User:
    return User(
        name=row.name,
        role=Role[row.role],
        password_hash=row.password_hash,
        scopes=tuple(row.scopes or ()),
        disabled=bool(row.disabled),
        epoch=int(row.epoch),
        created=as_utc(row.created),
    )


class CredentialStore:
    """Mixed into :class:`gridgis.store.sql.SqlStore`; uses its connection and audit."""

    engine: sa.Engine

    if TYPE_CHECKING:  # what SqlStore provides

        def _write(self) -> AbstractContextManager[sa.Connection]: ...

        def _audit(
            self,
            conn: sa.Connection,
            actor: str,
            action: str,
            target: str | None,
            detail: dict[str, Any],
            reason: str | None = None,
        ) -> None: ...

    # --- keys -------------------------------------------------------------------------------
    def create_key(self, key: ApiKey, actor: str) -> ApiKey:
        with self._write() as conn:
            conn.execute(
                t.api_keys.insert().values(
                    id=key.id,
                    name=key.name,
                    role=key.role.name,
                    hash=key.hash,
                    scopes=list(key.scopes),
                    origins=list(key.origins),
                    created=key.created or utcnow(),
                    created_by=actor,
                    expires=key.expires,
                    revoked=None,
                )
            )
            detail = {k: v for k, v in key.to_dict().items() if k not in ("revoked", "id")}
            self._audit(conn, actor, "key_create", f"key/{key.id}", detail)
        return self.get_key(key.id)

    def get_key(self, ident: str) -> ApiKey:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.api_keys).where(t.api_keys.c.id == ident)).first()
        if row is None:
            raise NotFoundError(f"no key {ident}", code="key_not_found")
        return _key(row)

    def list_keys(self) -> list[ApiKey]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.api_keys).order_by(t.api_keys.c.created)).all()
        return [_key(r) for r in rows]

    def revoke_key(self, ident: str, actor: str) -> ApiKey:
        k = t.api_keys
        with self._write() as conn:
            row = conn.execute(sa.select(k).where(k.c.id == ident)).first()
            if row is None:
                raise NotFoundError(f"no key {ident}", code="key_not_found")
            if row.revoked is None:
                conn.execute(k.update().where(k.c.id == ident).values(revoked=utcnow()))
                self._audit(conn, actor, "key_revoke", f"key/{ident}", {"name": row.name})
        return self.get_key(ident)

    # --- users ------------------------------------------------------------------------------
    def create_user(self, user: User, actor: str) -> User:
        check_user_name(user.name)
        u = t.users
        with self._write() as conn:
            if conn.execute(sa.select(u.c.name).where(u.c.name == user.name)).first():
                raise ConflictError(f"user {user.name!r} exists", code="user_exists")
            conn.execute(
                u.insert().values(
                    name=user.name,
                    role=user.role.name,
                    password_hash=user.password_hash,
                    scopes=list(user.scopes),
                    disabled=False,
                    epoch=0,
                    created=utcnow(),
                )
            )
            detail = {"role": user.role.name, "scopes": list(user.scopes)}
            self._audit(conn, actor, "user_create", f"user/{user.name}", detail)
        return self.get_user(user.name)

    def get_user(self, name: str) -> User:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.users).where(t.users.c.name == name)).first()
        if row is None:
            raise NotFoundError(f"no user {name!r}", code="user_not_found")
        return _user(row)

    def list_users(self) -> list[User]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.users).order_by(t.users.c.name)).all()
        return [_user(r) for r in rows]

    def change_user(
        self,
        name: str,
        actor: str,
        *,
        password_hash: str | None = None,
        disabled: bool | None = None,
    ) -> User:
        """A new password or (dis)abling; either ends the sessions signed before."""
        u = t.users
        with self._write() as conn:
            row = conn.execute(sa.select(u).where(u.c.name == name)).first()
            if row is None:
                raise NotFoundError(f"no user {name!r}", code="user_not_found")
            values: dict[str, Any] = {"epoch": int(row.epoch) + 1}
            detail: dict[str, Any] = {}
            if password_hash is not None:
                values["password_hash"] = password_hash
                detail["password"] = "changed"
            if disabled is not None:
                values["disabled"] = disabled
                detail["disabled"] = disabled
            conn.execute(u.update().where(u.c.name == name).values(**values))
            self._audit(conn, actor, "user_change", f"user/{name}", detail)
        return self.get_user(name)

    # --- secrets ----------------------------------------------------------------------------
    def server_secret(self, name: str) -> str:
        """A random secret the store keeps, made on first use; the same for every worker
        and every restart (the first writer's wins)."""
        s = t.server_secrets
        with self.engine.connect() as conn:
            found = conn.execute(sa.select(s.c.value).where(s.c.name == name)).scalar()
        if found is not None:
            return str(found)
        try:
            with self._write() as conn:
                conn.execute(s.insert().values(name=name, value=secrets.token_urlsafe(48)))
        except sa.exc.IntegrityError:
            pass  # another worker made it first: use theirs
        with self.engine.connect() as conn:
            return str(conn.execute(sa.select(s.c.value).where(s.c.name == name)).scalar_one())
