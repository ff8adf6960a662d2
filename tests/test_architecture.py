"""How the code is put together: rules a reviewer would otherwise have to remember."""

from __future__ import annotations

import ast
from pathlib import Path

import gridgis.errors
from tests.conftest import ROOT


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_library_imports_nothing_of_the_http_app() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(n for n in _imports(path) if n.split(".")[0] == "api")
        for path in (ROOT / "gridgis").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_routes_read_server_state_only_through_the_services_dependency() -> None:
    readers = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "api" / "routes").rglob("*.py")
        if "app.state." in path.read_text(encoding="utf-8")
    ]
    assert readers == []


def test_library_errors_carry_no_http_status() -> None:
    classes = [
        value
        for value in vars(gridgis.errors).values()
        if isinstance(value, type) and issubclass(value, gridgis.errors.GridgisError)
    ]
    assert len(classes) >= 5
    assert [c.__name__ for c in classes if hasattr(c, "status")] == []
    assert all(c.code and c.code.isidentifier() for c in classes)
