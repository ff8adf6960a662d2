"""What ``gridgis serve`` costs to run at city scale: start-up, memory, first requests.

    .venv/bin/python bench/serve_footprint.py [--data-dir DIR]

Starts one server process on the published city-scale store (``bench/city_store.py``)
and prints the seconds until ``/healthz`` answers and the process's resident memory
then; each request that builds something on first use (every OGC collection, pages of
buildings, the department services behind ``/embed``) timed cold beside the same
request warm; the size of the ``/map`` page and of the layers it loads; and the resident
memory at the end. Linux only (reads ``/proc``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.city_store import DEFAULT_DIR, VERSION, ensure_published  # noqa: E402
from bench.lookup_http import free_port, gridgis_argv, serving  # noqa: E402
from gridgis.store import open_store  # noqa: E402


def server_pid(port: int) -> int:
    """The process serving ``port`` (the one whose command line names it)."""
    wanted = ["--port", str(port)]
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        if any(argv[i : i + 2] == wanted for i in range(len(argv) - 1)) and "serve" in argv:
            return int(proc.name)
    raise SystemExit(f"no process serves port {port}")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def seconds(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=300) as response:
        response.read()
    return time.perf_counter() - started


def sizes(url: str) -> tuple[int, int]:
    """Bytes of an answer as sent plain, and gzipped as browsers ask for it."""
    with urllib.request.urlopen(url, timeout=300) as response:
        plain = len(response.read())
    ask = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(ask, timeout=300) as response:
        sent = len(response.read())
    return plain, sent


def megabytes(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args()
    settings = ensure_published(args.data_dir)
    store = open_store(settings)
    grid = str(store.read_grids(VERSION)["code"].iloc[0])
    store.close()
    port = free_port()
    env = {"GRIDGIS_DATA_DIR": str(settings.data_dir), "GRIDGIS_DATABASE_URL": ""}
    with tempfile.TemporaryDirectory(prefix="gridgis-footprint-") as tmp:
        started = time.perf_counter()
        with serving("gridgis", gridgis_argv(port), env, port, Path(tmp) / "serve.log") as base:
            ready = time.perf_counter() - started
            pid = server_pid(port)
            print(f"ready after {ready:.1f} s, holding {rss_mb(pid):.0f} MB")
            requests = {
                "OGC collections": "/ogc/collections",
                "OGC 1,000 buildings": "/ogc/collections/buildings/items?limit=1000",
                "OGC 10,000 buildings": "/ogc/collections/buildings/items?limit=10000",
                "embed grid with services": f"/embed/grids/{grid}.json",
            }
            for label, path in requests.items():
                cold = seconds(base + path)
                warm = seconds(base + path)
                print(f"  {label:<26} first {cold:7.3f} s, then {warm:7.3f} s")
            # The map page, and the layers it (or a browser on it) reads by URL.
            for label, path in {
                "/map page": "/map",
                "  its grids": f"/api/grids?version={VERSION}",
                "  its community outlines": "/embed/context.geojson?layer=communities",
            }.items():
                cold = seconds(base + path)
                plain, sent = sizes(base + path)
                print(
                    f"  {label:<26} {megabytes(plain):>9} ({megabytes(sent)} gzipped), "
                    f"first {cold:.3f} s"
                )
            print(f"after those: {rss_mb(pid):.0f} MB")


if __name__ == "__main__":
    main()
