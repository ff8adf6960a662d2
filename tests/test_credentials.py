"""Keys and accounts in the store (both stores): prefixed, checksummed keys kept only as
hashes; every change audited by the key's id; roles, scopes and origins checked when
made."""

from __future__ import annotations

import sqlalchemy as sa

from gridgis.credentials import (
    KEY_LENGTH,
    hash_password,
    issue_key,
    key_id,
    new_user,
    password_matches,
)
from gridgis.errors import ConflictError, InputError
from gridgis.store import SqlStore


def test_a_key_is_recognisable_and_a_typo_fails_its_checksum() -> None:
    from gridgis.credentials import new_key

    key, ident = new_key()
    assert key.startswith("ggk_") and len(key) == KEY_LENGTH and key_id(key) == ident
    typo = key[:20] + ("A" if key[20] != "A" else "B") + key[21:]
    assert key_id(typo) is None
    assert key_id(key + "x") is None and key_id("ggk_short") is None


def test_the_store_keeps_a_hash_never_the_key(store: SqlStore) -> None:
    key, record = issue_key(
        store, "editor", actor="admin", scopes=["510603001"], name="街道办", expires=None
    )
    assert record.role.name == "editor" and record.scopes == ("510603001",)
    with store.engine.connect() as conn:
        rows = [
            str(tuple(row))
            for table in ("api_keys", "audit_log")
            for row in conn.execute(sa.text(f"SELECT * FROM {table}"))
        ]
    assert rows and not any(key in row for row in rows)
    assert any(record.id in row for row in rows)
    assert [k.id for k in store.list_keys()] == [record.id]
    revoked = store.revoke_key(record.id, "admin")
    assert revoked.revoked is not None and not revoked.usable(revoked.revoked)
    assert [e.action for e in store.read_audit(2)] == ["key_revoke", "key_create"]
    assert store.verify_audit().ok


def test_what_a_key_cannot_be(store: SqlStore) -> None:
    for role, options, param in (
        ("owner", {}, "role"),
        ("viewer", {"scopes": ["51060300100A"]}, "scope"),
        ("editor", {"origins": ["https://oa.example.gov.cn"]}, "origin"),
        ("viewer", {"origins": ["oa.example.gov.cn/path"]}, "origin"),
    ):
        try:
            issue_key(store, role, actor="admin", **options)  # type: ignore[arg-type]
        except InputError as exc:
            assert exc.param == param
        else:
            raise AssertionError((role, options))
    assert store.list_keys() == []


def test_accounts_hash_their_passwords_with_argon2(store: SqlStore) -> None:
    user = new_user(store, "张三", "long enough password", "viewer", actor="admin")
    assert user.password_hash.startswith("$argon2id$")
    assert password_matches(user.password_hash, "long enough password")
    assert not password_matches(user.password_hash, "long enough passwore")
    try:
        new_user(store, "张三", "long enough password", "viewer", actor="admin")
    except ConflictError as exc:
        assert exc.code == "user_exists"
    else:
        raise AssertionError("a second 张三")
    try:
        hash_password("short")
    except InputError as exc:
        assert exc.param == "password"
    else:
        raise AssertionError("a short password")
    changed = store.change_user("张三", "admin", disabled=True)
    assert changed.disabled and changed.epoch == user.epoch + 1
