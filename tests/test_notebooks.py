"""Every notebook under notebooks/ runs top to bottom without an error, from the repo root,
on a "python3" kernel that is this interpreter (so it sees the gridgis under test)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from nbclient import NotebookClient

from tests.conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL = "python3"
VENV_KERNELS = Path(sys.prefix) / "share" / "jupyter"

pytestmark = pytest.mark.slow


def _ours(argv: list[str]) -> bool:
    # jupyter_client starts a spec whose argv[0] is plain "python" with sys.executable.
    return argv[0] in {"python", "python3", sys.executable}


@pytest.fixture(scope="module")
def kernel(monkeypatch_module: pytest.MonkeyPatch) -> str:
    """The "python3" kernel of this venv: found first (JUPYTER_PATH), installed if absent."""
    monkeypatch_module.setenv("JUPYTER_PATH", str(VENV_KERNELS))
    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL)
    except NoSuchKernel:
        spec = None
    if spec is None or not _ours(spec.argv):
        subprocess.run(
            [sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL],
            check=True,
            capture_output=True,
        )
        spec = KernelSpecManager().get_kernel_spec(KERNEL)
    assert _ours(spec.argv), spec.argv
    return KERNEL


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, "notebooks/ holds no .ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_the_notebook_runs(path: Path, kernel: str) -> None:
    nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    client = NotebookClient(
        nb, timeout=600, kernel_name=kernel, resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute()  # raises CellExecutionError, naming the cell, on any error
    errors = [
        output
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert errors == []
