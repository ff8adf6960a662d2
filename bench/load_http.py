"""A bounded loopback load test with API keys: lookups, tiles, OGC features and grid edits.

    .venv/bin/python bench/load_http.py [--data-dir DIR] [--duration 10] [--warmup 2]
        [--connections 16] [--threads 1] [--timeout 5] [--soak 30] [--soak-workers 8]
        [--soak-grids 3] [--no-mixed] [--tile-cache on|off] [--seed 2026] [--json]

Issue: a load test (wrk, loopback, bounded) on lookups, tiles, features and edits with
keys, error rate and latency percentiles; a soak of concurrent edits on the same grids
showing no lost update.

One ``gridgis serve`` (one process, uvicorn with httptools, as shipped; the per-client
rate limit left on, since keyed requests are not limited) serves a throw-away copy of the
published city-scale store (``bench/city_store.py``), so the edits never touch the cached
bench store. A viewer key and an editor key are made in the copy before it starts.

Reads, one class at a time, each by wrk (``-t1 -c16`` for ``--duration`` seconds after a
``--warmup`` it discards, ``--timeout`` seconds before a request counts as timed out),
every request with ``Authorization: Bearer <viewer key>``, cycling through a seeded list:

- lookups ``/api/lookup?lon=…&lat=…`` of random points inside the grids;
- tiles ``/tiles/grids/{z}/{x}/{y}.mvt`` over the grids' extent, z13–z16 (the tile cache
  as shipped: on; ``--tile-cache off`` renders every tile);
- OGC features ``/ogc/collections/grids/items?bbox=…&limit=…`` around random points.

wrk's Lua script tallies every status (so a 204 empty tile is a success, a 4xx or 5xx is
an error by its code) and keeps the first bodies of failed answers; when a class has
errors, its paths are replayed once, one by one, to name the failing requests.

Then the soak: ``--soak-workers`` threads (httpx, one keep-alive client each, editor key)
edit the same ``--soak-grids`` grids of the published version for ``--soak`` seconds,
each edit a read-modify-write — ``GET /api/grids/{code}``, then ``PATCH`` (``application/
merge-patch+json``, ``If-Match: <ETag read>``) appending a token unique to the attempt to
``party_branch``. 2xx acknowledges the token; 412 (the grid changed since it was read) is
the expected conflict, not an error; anything else is. Meanwhile (unless ``--no-mixed``)
wrk keeps up the lookup load, as every edit of the published version reloads the index
lookups answer from. Afterwards there is no lost update if every acknowledged token is in
the grid's final value, and no phantom one if no refused token is; each token is there
once; the OGC item and the store (opened once the server has stopped) say the same; the
audit log holds one entry per acknowledged edit whose befores and afters chain, from the
first value to the last, and its hash chain verifies; the versions are as they were; and
no GET sent after an edit was acknowledged misses it (no stale read).

Prints one table (requests, req/s, p50/p90/p99/max, mean answer size, errors and error
rate — non-2xx apart from the expected 412s, plus socket errors and timeouts — per class;
the edits also split into acknowledged and refused) and the soak's line; ``--json``
prints the same as one JSON document instead. Exits 1 on any error, lost, phantom or
duplicated update, stale read or audit mismatch; the server's log is kept in
``bench/out/load_http/server.log``. wrk is closed-loop (each connection waits for its
answer), so the percentiles are those of the rate reached, not of a fixed offered rate.
The edits' figures are the Python client's, with its own overhead in them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from string import Template
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.city_store import DEFAULT_DIR, VERSION, ensure_published  # noqa: E402
from bench.lookup_http import free_port, gridgis_argv, inside_points, serving  # noqa: E402
from bench.tiles_http import tiles_over  # noqa: E402
from gridgis.credentials import issue_key  # noqa: E402
from gridgis.settings import Settings  # noqa: E402
from gridgis.store import open_store  # noqa: E402

LOG_DIR = ROOT / "bench" / "out" / "load_http"  # the server's log is kept here
PROPERTY = "party_branch"  # editable on the published version, answered by no lookup
MERGE_PATCH = "application/merge-patch+json"
EXPECTED = {"edits": {412}, "edits 412": {412}}  # statuses that are not errors, by class
FEATURE_LIMITS = (10, 50, 100)
REPLAY_S = 10.0  # seconds the failing class's paths are replayed for, at most
SOAK_TIMEOUT = 60.0  # seconds an edit may take before its outcome counts as unknown
LUA = Template(
    """-- $title: cycles through the request paths in the file below, with a key,
-- tallying every status; prints its figures as LOAD lines when done.
local paths = {}
for line in io.lines($paths) do paths[#paths + 1] = line end
wrk.headers["Authorization"] = "Bearer " .. $key
local threads = {}
function setup(thread)
  threads[#threads + 1] = thread
end
function init(args)
  i = 0
  statuses = {}
  failures = {}
end
function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status >= 300 and #failures < 5 then
    local text = (string.gsub(body or "", "%s+", " "))
    failures[#failures + 1] = status .. " " .. string.sub(text, 1, 300)
  end
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "LOAD summary %d %d %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    summary.bytes, e.connect, e.read, e.write, e.status, e.timeout))
  for _, p in ipairs({50, 90, 99}) do
    io.write(string.format("LOAD p%d %d\\n", p, latency:percentile(p)))
  end
  io.write(string.format("LOAD max %d\\n", latency.max))
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses")) do
      io.write(string.format("LOAD status %d %d\\n", code, n))
    end
    for _, f in ipairs(t:get("failures")) do io.write("LOAD failure " .. f .. "\\n") end
  end
end
"""
)


@dataclass
class ClassResult:
    """One endpoint class's figures; latencies in milliseconds."""

    name: str
    requests: int  # answered
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[int, int]
    socket_errors: dict[str, int] = field(default_factory=dict)  # connect, read, … timeout
    failures: list[str] = field(default_factory=list)  # what failed, first few
    note: str = ""
    bytes: int = 0  # of the answers (wrk: headers too)

    @property
    def expected(self) -> int:
        allowed = EXPECTED.get(self.name, set())
        return sum(n for code, n in self.statuses.items() if code in allowed)

    @property
    def errors(self) -> int:
        allowed = EXPECTED.get(self.name, set())
        bad = sum(
            n for code, n in self.statuses.items() if not 200 <= code < 300 and code not in allowed
        )
        return bad + sum(self.socket_errors.values())

    @property
    def attempts(self) -> int:
        return self.requests + sum(self.socket_errors.values())

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def error_rate(self) -> float:
        return self.errors / self.attempts if self.attempts else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "rps": round(self.rps, 1),
            "errors": self.errors,
            "expected_conflicts": self.expected,
            "error_rate": self.error_rate,
        }


@dataclass
class Soak:
    """What the edit soak found."""

    workers: int
    grids: list[str]
    seconds: float
    acknowledged: int = 0
    conflicts: int = 0
    found: int = 0
    lost: list[str] = field(default_factory=list)  # acknowledged tokens not in the end value
    phantom: list[str] = field(default_factory=list)  # refused tokens there all the same
    duplicated: list[str] = field(default_factory=list)
    unknown: int = 0  # attempts with no answer (their outcome is not known)
    stale_reads: int = 0  # GETs not showing an edit acknowledged before they were sent
    audit_entries: int = 0
    chain_ok: bool = False
    problems: list[str] = field(default_factory=list)  # any other inconsistency

    @property
    def ok(self) -> bool:
        return not (self.lost or self.phantom or self.duplicated or self.problems)


# --- request lists ---------------------------------------------------------------------------
def feature_paths(lookups: list[str], n: int, seed: int) -> list[str]:
    """``bbox`` pages around points inside the grids: a few hundred metres to a kilometre
    or two across, ``limit`` 10, 50 or 100."""
    rng = random.Random(seed)
    paths = []
    for path in lookups[:n]:
        query = dict(part.split("=", 1) for part in path.split("?", 1)[1].split("&"))
        lon, lat = float(query["lon"]), float(query["lat"])
        half = rng.uniform(0.002, 0.01)
        bbox = f"{lon - half:.6f},{lat - half:.6f},{lon + half:.6f},{lat + half:.6f}"
        limit = rng.choice(FEATURE_LIMITS)
        paths.append(f"/ogc/collections/grids/items?bbox={bbox}&limit={limit}")
    return paths


def write_lua(workdir: Path, title: str, paths: list[str], key: str) -> Path:
    paths_file = workdir / f"{title}.txt"
    paths_file.write_text("\n".join(paths) + "\n")
    script = workdir / f"{title}.lua"
    # A JSON string is a Lua string.
    script.write_text(
        LUA.substitute(title=title, paths=json.dumps(str(paths_file)), key=json.dumps(key))
    )
    return script


# --- plain requests --------------------------------------------------------------------------
def fetch(url: str, key: str | None, timeout: float = 30.0) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read())


def preflight(base: str, viewer: str, lists: dict[str, list[str]]) -> None:
    """A few requests of each class answer as they should, and the key is really checked."""
    for name, paths in lists.items():
        for path in paths[:20]:
            status, body = fetch(base + path, viewer)
            if not 200 <= status < 300:
                raise SystemExit(f"preflight {name}: GET {path} gave {status}: {body[:300]!r}")
        if name == "features":
            doc = json.loads(body)
            if doc.get("type") != "FeatureCollection":
                raise SystemExit(f"preflight features: GET {path} is not GeoJSON: {body[:300]!r}")
    bogus = "ggk_" + "0" * 46
    status, _ = fetch(base + lists["lookups"][0], bogus)
    if status != 401:
        raise SystemExit(f"a request with a bogus key gave {status}, not 401: keys not checked?")


def replay(
    base: str, key: str, paths: list[str], budget_s: float = REPLAY_S
) -> tuple[int, list[str]]:
    """Each path once, one at a time (for ``budget_s`` at most): how many were sent, and
    those that failed."""
    failed: list[str] = []
    deadline = time.monotonic() + budget_s
    sent = 0
    for path in dict.fromkeys(paths):
        if time.monotonic() > deadline or len(failed) >= 10:
            break
        sent += 1
        try:
            status, body = fetch(base + path, key)
        except OSError as exc:
            failed.append(f"GET {path}: {type(exc).__name__}: {exc}")
            continue
        if not 200 <= status < 300:
            text = body[:300].decode("utf-8", "replace")
            failed.append(f"GET {path} → {status} {text}")
    return sent, failed


# --- wrk -------------------------------------------------------------------------------------
def wrk_argv(
    wrk: str, base: str, script: Path, args: argparse.Namespace, seconds: float
) -> list[str]:
    return [
        wrk,
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{seconds:g}s",
        f"--timeout={args.timeout:g}s",
        "-s",
        str(script),
        base,
    ]


def parse_wrk(name: str, output: str) -> ClassResult:
    lines = [line.split(" ", 2)[1:] for line in output.splitlines() if line.startswith("LOAD ")]
    found: dict[str, str] = {}
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    for kind, *rest in lines:
        value = rest[0] if rest else ""
        if kind == "status":
            code, n = value.split()
            statuses[int(code)] += int(n)
        elif kind == "failure":
            failures.append(value)
        else:
            found[kind] = value
    if "summary" not in found:
        raise SystemExit(f"{name}: no figures in wrk's output:\n{output}")
    requests, duration, size, connect, read, write, _, timeout = map(int, found["summary"].split())
    return ClassResult(
        name=name,
        requests=requests,
        seconds=duration / 1e6,
        p50_ms=int(found["p50"]) / 1e3,
        p90_ms=int(found["p90"]) / 1e3,
        p99_ms=int(found["p99"]) / 1e3,
        max_ms=int(found["max"]) / 1e3,
        statuses=dict(statuses),
        socket_errors={
            k: v
            for k, v in (
                ("connect", connect),
                ("read", read),
                ("write", write),
                ("timeout", timeout),
            )
            if v
        },
        failures=failures,
        bytes=size,
    )


def start_wrk(
    wrk: str, base: str, script: Path, args: argparse.Namespace, seconds: float
) -> subprocess.Popen[str]:
    argv = wrk_argv(wrk, base, script, args, seconds)
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish_wrk(name: str, proc: subprocess.Popen[str]) -> ClassResult:
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"wrk failed for {name} ({proc.returncode}):\n{out}{err}")
    return parse_wrk(name, out)


def measure(
    name: str,
    base: str,
    script: Path,
    args: argparse.Namespace,
    wrk: str,
    paths: list[str],
    key: str,
) -> ClassResult:
    print(f"{name}: warm-up {args.warmup:g} s, then {args.duration:g} s …", file=sys.stderr)
    if args.warmup > 0:
        finish_wrk(name, start_wrk(wrk, base, script, args, args.warmup))
    result = finish_wrk(name, start_wrk(wrk, base, script, args, args.duration))
    if result.errors:
        explain_errors(result, base, key, paths, args.timeout)
    return result


def explain_errors(
    result: ClassResult, base: str, key: str, paths: list[str], timeout: float
) -> None:
    """Say what failed: wrk's socket errors (it does not say which request met them), and
    the paths that fail when replayed one by one."""
    print(f"  {result.name}: {result.errors} errors; replaying its paths …", file=sys.stderr)
    for kind, n in result.socket_errors.items():
        what = f"no answer within {timeout:g} s" if kind == "timeout" else f"{kind} errors"
        result.failures.append(f"{n} requests: {what} (wrk does not say which paths)")
    sent, failed = replay(base, key, paths)
    result.failures += [f"replayed: {f}" for f in failed] or [
        f"replayed {sent:,} of the {len(set(paths)):,} paths one by one ({REPLAY_S:g} s at "
        "most): none failed then, so they failed under load only"
    ]


# --- the edit soak ---------------------------------------------------------------------------
@dataclass
class Attempt:
    """One read-modify-write: the GET, then (if it answered 200) the PATCH."""

    worker: int
    code: str
    sent: float  # time.perf_counter() as the GET went out
    read_ms: float
    read_status: int = 0  # 0: no answer
    read_bytes: int = 0
    read_tokens: tuple[str, ...] = ()
    token: str = ""  # appended by the PATCH, if one was sent
    patch_ms: float | None = None
    status: int | None = None  # the PATCH's; None: not sent, or no answer
    acked: float | None = None  # time.perf_counter() as its 2xx came back
    patch_bytes: int = 0
    detail: str = ""  # what went wrong


def tokens_of(value: str | None) -> list[str]:
    return (value or "").split()[1:]  # the first word is the soak's start marker


def read_modify_write(client: httpx.Client, worker: int, code: str, token: str) -> Attempt:
    url = f"/api/grids/{code}"
    sent = time.perf_counter()
    try:
        read = client.get(url)
    except httpx.HTTPError as exc:
        ms = (time.perf_counter() - sent) * 1e3
        return Attempt(worker, code, sent, ms, detail=f"GET {url}: {exc!r}")
    attempt = Attempt(
        worker, code, sent, (time.perf_counter() - sent) * 1e3, read.status_code, len(read.content)
    )
    if read.status_code != 200:
        attempt.detail = f"GET {url} → {read.status_code} {read.text[:300]}"
        return attempt
    value = read.json()["properties"].get(PROPERTY)
    attempt.read_tokens = tuple(tokens_of(value))
    attempt.token = token
    start = time.perf_counter()
    try:
        edit = client.patch(
            url,
            json={"properties": {PROPERTY: f"{value} {token}"}},
            headers={"Content-Type": MERGE_PATCH, "If-Match": read.headers["etag"]},
        )
    except httpx.HTTPError as exc:
        attempt.patch_ms = (time.perf_counter() - start) * 1e3
        attempt.detail = f"PATCH {url}: {exc!r}"
        return attempt
    now = time.perf_counter()
    attempt.patch_ms = (now - start) * 1e3
    attempt.status = edit.status_code
    attempt.patch_bytes = len(edit.content)
    if 200 <= edit.status_code < 300:
        attempt.acked = now
    elif edit.status_code != 412:
        attempt.detail = f"PATCH {url} (If-Match {read.headers['etag']}) → {edit.status_code} "
        attempt.detail += edit.text[:300]
    return attempt


def soak_worker(
    worker: int,
    base: str,
    editor: str,
    codes: list[str],
    deadline: float,
    timeout: float,
) -> list[Attempt]:
    """Read-modify-writes until ``deadline`` (time.monotonic()), cycling through ``codes``."""
    mine: list[Attempt] = []
    headers = {"Authorization": f"Bearer {editor}"}
    with httpx.Client(base_url=base, headers=headers, timeout=timeout) as client:
        while time.monotonic() < deadline:
            n = len(mine)
            mine.append(
                read_modify_write(
                    client, worker, codes[(worker + n) % len(codes)], f"w{worker}.{n}"
                )
            )
    return mine


def percentiles(values: list[float]) -> tuple[float, float, float, float]:
    if not values:
        return 0.0, 0.0, 0.0, 0.0
    p50, p90, p99 = np.percentile(np.asarray(values), [50, 90, 99])
    return float(p50), float(p90), float(p99), max(values)


def soak_results(attempts: list[Attempt], seconds: float) -> list[ClassResult]:
    """The PATCHes' class (all, then the acknowledged and the refused apart) and the
    GETs' (the read before each edit)."""
    patches = [a for a in attempts if a.patch_ms is not None]
    answered = [a for a in patches if a.status is not None]
    p_status = Counter(a.status for a in answered)
    no_answer = len(patches) - len(answered)

    def edits(name: str, which: list[Attempt], note: str = "") -> ClassResult:
        return ClassResult(
            name,
            len(which),
            seconds,
            *percentiles([a.patch_ms for a in which if a.patch_ms is not None]),
            statuses=dict(Counter(a.status for a in which if a.status is not None)),
            note=note,
            bytes=sum(a.patch_bytes for a in which),
        )

    every = edits("edits", answered, f"412 ×{p_status.get(412, 0)} expected")
    every.socket_errors = {"no answer": no_answer} if no_answer else {}
    every.failures = [a.detail for a in patches if a.detail][:5]
    rows = [every]
    for code in (200, 412):
        rows.append(edits(f"edits {code}", [a for a in answered if a.status == code]))
    read = [a for a in attempts if a.read_status]
    unread = len(attempts) - len(read)
    reads = ClassResult(
        "edit reads",
        len(read),
        seconds,
        *percentiles([a.read_ms for a in read]),
        statuses=dict(Counter(a.read_status for a in read)),
        socket_errors={"no answer": unread} if unread else {},
        failures=[a.detail for a in attempts if a.detail.startswith("GET")][:5],
        bytes=sum(a.read_bytes for a in read),
    )
    return [*rows, reads]


def start_soak(codes: list[str], http: httpx.Client) -> dict[str, str]:
    """Mark each grid's property as the soak's start; the values written."""
    start = {}
    for code in codes:
        url = f"/api/grids/{code}"
        read = http.get(url)
        read.raise_for_status()
        value = f"soak-{code}"
        edit = http.patch(
            url,
            json={"properties": {PROPERTY: value}},
            headers={"Content-Type": MERGE_PATCH, "If-Match": read.headers["etag"]},
        )
        if edit.status_code != 200:
            raise SystemExit(
                f"PATCH {url} (start of the soak) gave {edit.status_code}: {edit.text}"
            )
        start[code] = value
    # Optimistic locking as documented: a stale tag is 412 with the tag now, none is 428.
    url = f"/api/grids/{codes[0]}"
    now = http.get(url).headers["etag"]
    body = {"properties": {PROPERTY: "never"}}
    stale = http.patch(url, json=body, headers={"Content-Type": MERGE_PATCH, "If-Match": '"stale"'})
    missing = http.patch(url, json=body, headers={"Content-Type": MERGE_PATCH})
    if (stale.status_code, stale.headers.get("etag"), missing.status_code) != (412, now, 428):
        raise SystemExit(
            f"PATCH {url}: stale If-Match gave {stale.status_code} (ETag "
            f"{stale.headers.get('etag')}, now {now}), none gave {missing.status_code}; "
            "expected 412 with the current ETag and 428"
        )
    return start


def check_soak(
    soak: Soak,
    attempts: list[Attempt],
    start: dict[str, str],
    http: httpx.Client,
) -> dict[str, str]:
    """Compare the final values over HTTP (the grid and its OGC item) with the attempts;
    gives the final values."""
    acked = {
        code: {a.token for a in attempts if a.code == code and a.acked is not None}
        for code in start
    }
    refused = {
        code: {a.token for a in attempts if a.code == code and a.status == 412} for code in start
    }
    final: dict[str, str] = {}
    for code in start:
        got = http.get(f"/api/grids/{code}")
        value = str(got.json()["properties"].get(PROPERTY))
        final[code] = value
        words = value.split()
        if not words or words[0] != start[code]:
            soak.problems.append(
                f"{code}: final value does not start with {start[code]!r}: {value[:80]!r}"
            )
        tokens = tokens_of(value)
        seen = set(tokens)
        soak.found += len(seen & acked[code])
        soak.lost += sorted(acked[code] - seen)
        soak.phantom += sorted(seen & refused[code])
        soak.duplicated += sorted(t for t, n in Counter(tokens).items() if n > 1)
        unexplained = seen - acked[code] - refused[code]
        unknown = {a.token for a in attempts if a.code == code and a.status is None and a.token}
        if unexplained - unknown:
            soak.problems.append(
                f"{code}: tokens no attempt wrote: {sorted(unexplained - unknown)[:5]}"
            )
        item = http.get(f"/ogc/collections/grids/items/{code}")
        if item.status_code != 200 or item.json()["properties"].get(PROPERTY) != value:
            soak.problems.append(
                f"GET /ogc/collections/grids/items/{code} ({item.status_code}) disagrees with "
                f"GET /api/grids/{code} on {PROPERTY}"
            )
    soak.acknowledged = sum(map(len, acked.values()))
    soak.conflicts = sum(map(len, refused.values()))
    soak.unknown = sum(a.status is None for a in attempts if a.patch_ms is not None)
    stale_reads(soak, attempts)
    return final


def stale_reads(soak: Soak, attempts: list[Attempt]) -> None:
    """Every GET sent after an edit of its grid was acknowledged shows that edit."""
    done = sorted((a.acked, a.code, a.token) for a in attempts if a.acked is not None)
    for read in attempts:
        if read.read_status != 200:
            continue
        before = {t for at, code, t in done if code == read.code and at < read.sent}
        missing = before - set(read.read_tokens)
        if missing:
            soak.stale_reads += 1
            if soak.stale_reads <= 5:
                soak.problems.append(
                    f"stale read: GET /api/grids/{read.code} (worker {read.worker}) lacked "
                    f"{len(missing)} edit(s) acknowledged before it was sent, e.g. "
                    f"{sorted(missing)[0]}"
                )


def check_store(
    soak: Soak,
    settings: Settings,
    actor: str,
    start: dict[str, str],
    final: dict[str, str],
    versions_before: int,
) -> None:
    """With the server stopped: the store, the audit log and its chain agree."""
    store = open_store(settings)
    try:
        for code, value in final.items():
            values, _, _ = store.grid_state(VERSION, code)
            if values.get(PROPERTY) != value:
                soak.problems.append(f"{code}: the store holds another value than HTTP answered")
        entries = [
            e
            for e in reversed(store.read_audit(soak.acknowledged + 10_000))  # oldest first
            if e.actor == actor and e.action == "edit" and e.target == f"version/{VERSION}"
        ]
        chain = store.verify_audit()
        versions_after = len(store.list_versions())
    finally:
        store.close()
    soak.chain_ok = chain.ok
    if not chain.ok:
        soak.problems.append(f"audit chain broken at entry {chain.broken_at}: {chain.problem}")
    if versions_after != versions_before:
        soak.problems.append(f"{versions_before} versions before the soak, {versions_after} after")
    last = dict(start)
    for entry in entries:
        for change in entry.detail.get("grids", []):
            code = change["code"]
            if code not in last or PROPERTY not in change.get("after", {}):
                continue
            if (
                code in start
                and change["after"][PROPERTY] == start[code]
                and last[code] == start[code]
            ):
                continue  # the soak's own start marker
            soak.audit_entries += 1
            before = change["before"].get(PROPERTY)
            if before != last[code]:
                soak.problems.append(
                    f"audit: an edit of {code} was made from {str(before)[-30:]!r}, not from the "
                    f"value then, {last[code][-30:]!r}: an edit in between was overwritten"
                )
            last[code] = change["after"][PROPERTY]
    if soak.audit_entries != soak.acknowledged:
        soak.problems.append(
            f"audit: {soak.audit_entries} soak edits logged, {soak.acknowledged} acknowledged"
        )
    for code, value in final.items():
        if last[code] != value:
            soak.problems.append(f"audit: the last logged value of {code} is not its final value")


# --- reporting -------------------------------------------------------------------------------
def table(results: list[ClassResult]) -> str:
    head = (
        f"{'class':<20} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p90 ms':>8} "
        f"{'p99 ms':>8} {'max ms':>8} {'kB/answer':>9} {'errors':>7} {'error rate':>10}  notes"
    )
    rows = [head, "-" * len(head)]
    for r in results:
        notes = [r.note] if r.note else []
        if r.socket_errors:
            notes.append(", ".join(f"{k} {v}" for k, v in r.socket_errors.items()))
        bad = {
            c: n
            for c, n in sorted(r.statuses.items())
            if not 200 <= c < 300 and c not in EXPECTED.get(r.name, set())
        }
        if bad:
            notes.append(", ".join(f"{c} ×{n}" for c, n in bad.items()))
        label = f"  {r.name}" if r.name.startswith("edits ") else r.name  # edits' parts
        rps = f"{r.rps:,.0f}" if r.rps >= 100 else f"{r.rps:.1f}"
        size = f"{r.bytes / r.requests / 1e3:.1f}" if r.requests else "-"
        rows.append(
            f"{label:<20} {r.requests:>9,} {rps:>8} {r.p50_ms:>8.2f} {r.p90_ms:>8.2f} "
            f"{r.p99_ms:>8.2f} {r.max_ms:>8.1f} {size:>9} {r.errors:>7,} {r.error_rate:>10.4%}  "
            f"{'; '.join(notes)}".rstrip()
        )
    return "\n".join(rows)


def soak_line(soak: Soak) -> str:
    line = (
        f"soak: {soak.workers} workers on {len(soak.grids)} grids for {soak.seconds:.1f} s: "
        f"{soak.acknowledged} acknowledged edits, {soak.found} found, {len(soak.lost)} lost; "
        f"{soak.conflicts} refused with 412, {len(soak.phantom)} of them applied; "
        f"{len(soak.duplicated)} duplicated; {soak.unknown} unanswered; "
        f"{soak.stale_reads} stale reads; "
        f"audit log {soak.audit_entries} soak entries, chained before→after"
        f"{'' if any(p.startswith('audit:') for p in soak.problems) else ' ok'}, hash chain "
        f"{'verified' if soak.chain_ok else 'BROKEN'}"
    )
    return line + "".join(f"\n  problem: {p}" for p in soak.problems)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per read class")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds discarded first")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds before a timeout")
    parser.add_argument("--soak", type=float, default=30.0, help="seconds of concurrent edits")
    parser.add_argument("--soak-workers", type=int, default=8)
    parser.add_argument("--soak-grids", type=int, default=3)
    parser.add_argument("--no-mixed", action="store_true", help="no lookups during the soak")
    parser.add_argument("--tile-cache", choices=("on", "off"), default="on")
    parser.add_argument("--points", type=int, default=20_000, help="drawn; those inside kept")
    parser.add_argument("--max-tiles", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = parser.parse_args()

    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk not found: scripts/ensure-system.sh bench")
    os.environ.pop("GRIDGIS_DATABASE_URL", None)  # the server serves the copy, embedded

    cached = ensure_published(args.data_dir)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    results: list[ClassResult] = []
    with tempfile.TemporaryDirectory(prefix="gridgis-load-") as tmp:
        workdir = Path(tmp)
        print(f"copying {cached.data_dir} …", file=sys.stderr)
        shutil.copytree(cached.data_dir, workdir / "store")
        settings = Settings(data_dir=workdir / "store", actor="bench")
        store = open_store(settings)
        try:
            grids = store.read_grids(VERSION)
            viewer, _ = issue_key(store, "viewer", actor="bench", name="load_http viewer")
            editor, editor_record = issue_key(
                store, "editor", actor="bench", name="load_http editor"
            )
            versions_before = len(store.list_versions())
        finally:
            store.close()
        lookups, _ = inside_points(grids, args.points, args.seed)
        west, south, east, north = (float(v) for v in grids.total_bounds)
        over = tiles_over((west, south, east, north), args.max_tiles, args.seed)
        tiles = [f"/tiles/grids/{t}.mvt" for t in over]
        features = feature_paths(lookups, 5_000, args.seed)
        lists = {"lookups": lookups, "tiles": tiles, "features": features}
        scripts = {name: write_lua(workdir, name, paths, viewer) for name, paths in lists.items()}
        rng = random.Random(args.seed)
        codes = sorted(rng.sample(sorted(grids["code"].astype(str)), args.soak_grids))
        print(
            f"{len(grids):,} grids of {VERSION}; {len(lookups):,} lookup points, {len(tiles):,} "
            f"tiles z13–z16, {len(features):,} feature pages; wrk -t{args.threads} "
            f"-c{args.connections} -d{args.duration:g}s (after {args.warmup:g} s) per class, "
            f"viewer key on every read; soak {args.soak_workers} workers × {codes} for "
            f"{args.soak:g} s (editor key){'' if args.no_mixed else ', lookups meanwhile'}; "
            f"tile cache {args.tile_cache}",
            file=sys.stderr,
            flush=True,
        )

        port = free_port()
        env = {
            "GRIDGIS_DATA_DIR": str(settings.data_dir),
            "GRIDGIS_TILE_CACHE": "1" if args.tile_cache == "on" else "0",
        }
        log = LOG_DIR / "server.log"
        soak = Soak(args.soak_workers, codes, args.soak)
        with serving("gridgis", gridgis_argv(port), env, port, log) as base:
            preflight(base, viewer, lists)
            for name, paths in lists.items():
                results.append(measure(name, base, scripts[name], args, wrk, paths, viewer))

            auth = {"Authorization": f"Bearer {editor}"}
            with httpx.Client(base_url=base, headers=auth, timeout=60) as http:
                start = start_soak(codes, http)
                print(
                    f"soak: {args.soak_workers} workers editing {len(codes)} grids for "
                    f"{args.soak:g} s …",
                    file=sys.stderr,
                )
                mixed = (
                    None
                    if args.no_mixed
                    else start_wrk(wrk, base, scripts["lookups"], args, args.soak)
                )
                began = time.monotonic()
                deadline = began + args.soak
                with ThreadPoolExecutor(args.soak_workers) as pool:
                    done = [
                        pool.submit(soak_worker, w, base, editor, codes, deadline, SOAK_TIMEOUT)
                        for w in range(args.soak_workers)
                    ]
                    attempts = [a for future in done for a in future.result()]
                soak.seconds = time.monotonic() - began
                results += soak_results(attempts, soak.seconds)
                if mixed is not None:
                    during = finish_wrk("lookups during soak", mixed)
                    if during.errors:
                        explain_errors(during, base, viewer, lookups, args.timeout)
                    results.append(during)
                final = check_soak(soak, attempts, start, http)
        check_store(soak, settings, f"key:{editor_record.id}", start, final, versions_before)

    failed = [r for r in results if r.errors]
    if args.json:
        doc = {
            "version": VERSION,
            "grids": len(grids),
            "wrk": {
                "threads": args.threads,
                "connections": args.connections,
                "duration_s": args.duration,
                "timeout_s": args.timeout,
            },
            "tile_cache": args.tile_cache,
            "classes": [r.to_dict() for r in results],
            "soak": {**asdict(soak), "ok": soak.ok},
            "ok": soak.ok and not failed,
        }
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        print(table(results))
        print(soak_line(soak))
        for r in failed:
            print(f"{r.name} failures:")
            for f in r.failures:
                print(f"  {f}")
        if failed:
            print(f"server log: {log}")
    if failed or not soak.ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
