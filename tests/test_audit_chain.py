"""The audit log is a chain: every write extends it, and an entry changed, removed or
slipped in afterwards (by SQL, behind gridgis's back) is found at the entry where it was."""

from __future__ import annotations

import sqlalchemy as sa

from gridgis.settings import Settings
from gridgis.store import SqlStore, open_store
from tests.conftest import save_boxes

CELL = (104.39, 31.12, 104.40, 31.13)


def _writes(store: SqlStore) -> None:
    for n in range(3):
        save_boxes(store, f"v{n}", {f"51060300100100{n + 1}": CELL})
    store.rename_version("v2", "改名后的草稿", "张三")
    store.delete_version("v1", "李四")


def test_every_write_extends_the_chain_and_it_verifies(store: SqlStore) -> None:
    _writes(store)
    check = store.verify_audit()
    assert (check.ok, check.entries) == (True, 5)
    entries = store.read_audit()
    assert [e.action for e in entries] == ["delete", "rename", "merge", "merge", "merge"]


def test_a_changed_entry_is_found_where_it_was(store: SqlStore) -> None:
    _writes(store)
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET actor = 'someone else' WHERE id = 4"))
    check = store.verify_audit()
    assert (check.ok, check.broken_at) == (False, 4)
    assert check.problem == "the entry was changed"


def test_a_removed_entry_breaks_the_chain_after_it(store: SqlStore) -> None:
    _writes(store)
    with store.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_log WHERE id = 2"))
    check = store.verify_audit()
    assert (check.ok, check.broken_at) == (False, 3)
    assert "changed or removed" in (check.problem or "")


def test_an_entry_slipped_in_breaks_the_chain(store: SqlStore) -> None:
    _writes(store)
    with store.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO audit_log (at, actor, action, target, detail, reason, prev_hash, "
                "hash) SELECT at, 'forger', action, target, detail, reason, prev_hash, hash "
                "FROM audit_log WHERE id = 5"
            )
        )
    check = store.verify_audit()
    assert (check.ok, check.broken_at) == (False, 6)


def test_entries_written_before_the_chain_are_chained_by_the_migration(store: SqlStore) -> None:
    store.downgrade("0005")
    with store.engine.begin() as conn:  # as gridgis wrote them before 0006
        for n in range(3):
            conn.execute(
                sa.text(
                    "INSERT INTO audit_log (at, actor, action, target, detail, reason) "
                    "VALUES (:at, '王五', 'import', :target, :detail, NULL)"
                ),
                {
                    "at": f"2026-11-0{n + 1}T08:00:00.000000Z",
                    "target": f"layer/{n}",
                    "detail": f'{{"rows": {n}, "名称": "楼栋"}}',
                },
            )
    store.upgrade()
    check = store.verify_audit()
    assert (check.ok, check.entries) == (True, 3)
    save_boxes(store, "after", {"510603001001009": CELL})
    assert store.verify_audit().ok


def test_the_command_line_says_intact_or_where_it_broke(settings: Settings) -> None:
    from tests.test_cli import run, run_json

    store = open_store(settings, check=False)
    store.upgrade()
    _writes(store)
    assert run_json(settings, "audit", "verify") == {
        "entries": 5,
        "ok": True,
        "broken_at": None,
        "problem": None,
    }
    assert [e["action"] for e in run_json(settings, "audit", "--limit", "2")] == [
        "delete",
        "rename",
    ]
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET reason = 'hidden' WHERE id = 3"))
    code, _, err = run(settings, "audit", "verify")
    assert code == 1 and "entry 3" in err
    store.close()
