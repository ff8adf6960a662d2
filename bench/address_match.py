"""Address matching on messy variants of the standard address base: speed and right grid.

    .venv/bin/python bench/address_match.py [SAMPLE_DIR] [--scale small|city]
        [--variants 20000] [--seed 7] [--runs 3] [--work DIR]

The sample city (``shapefiles/`` for the small one; for ``--scale city`` the store
``bench/city_store.py`` builds once for all benchmarks, or SAMPLE_DIR/``--work``) is
imported into an embedded store and merged into grids, as ``gridgis demo`` does. From
the store's address base the script draws seeded messy variants, each applying one to
three of the ways residents write addresses (``KINDS``), matches them with
``AddressMatcher.match_many`` and counts a variant right when its top match lies in the
same grid as the true address. Targets: ≥ 20,000 addresses/s and ≥ 98 % right grid.
``--work DIR`` keeps the store there and reuses it next time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from opencc import OpenCC

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.city_store import VERSION as CITY_VERSION  # noqa: E402
from bench.city_store import ensure_published  # noqa: E402
from gridgis.address import AddressError, AddressMatch, AddressMatcher  # noqa: E402
from gridgis.address.normalize import normalize  # noqa: E402
from gridgis.address.text import canon_name  # noqa: E402
from gridgis.demo import run_demo  # noqa: E402
from gridgis.lookup import GridIndex  # noqa: E402
from gridgis.settings import Settings  # noqa: E402
from gridgis.store import open_store  # noqa: E402

VERSION = "address-bench"
ADMIN = ("province", "city", "district", "subdistrict", "community")
# In the order they are applied: what is said first, then how it is spelt.
KINDS = (
    "drop_prefix",
    "compound_only",
    "road_only",
    "unknown_door",
    "typo",
    "chinese_numerals",
    "building_synonym",
    "drop_hao",
    "spaces_punct",
    "fullwidth",
    "traditional",
    "noise",
)
NOISE = ("附近", "旁边", "对面", "门口", "后面", "隔壁", "楼下", "周边", "一带")
SYNONYMS = ("幢", "座", "号楼", "#")
SEPARATORS = (" ", "，", ",", "、", "  ", "。", " , ")
TYPO_CHARS = "金锦华和平安康乐新城花园家苑湾庭府都景江山湖阳光明德兴盛祥"
_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_CN = "零一二三四五六七八九"


def cn_number(n: int, digitwise: bool) -> str:
    """59 → 五十九 (or 五九 digit by digit), 102 → 一百零二, 10 → 十."""
    if digitwise or n >= 1000:
        return "".join(_CN[int(d)] for d in str(n))
    if n < 10:
        return _CN[n]
    if n < 20:
        return "十" + (_CN[n % 10] if n % 10 else "")
    if n < 100:
        return _CN[n // 10] + "十" + (_CN[n % 10] if n % 10 else "")
    rest = n % 100
    tail = "" if rest == 0 else ("零" + _CN[rest] if rest < 10 else cn_number(rest, False))
    if 10 <= rest < 20:
        tail = "一" + tail
    return _CN[n // 100] + "百" + tail


@dataclass(frozen=True)
class Parts:
    """One address, component by component, as a variant is being written."""

    admin: tuple[str, ...]
    road: str
    door: str
    hao: str
    compound: str
    building: str
    unit: str
    rural: bool

    def pieces(self) -> list[str]:
        door = self.door + self.hao
        parts = (*self.admin, self.road, door, self.compound, self.building, self.unit)
        return [p for p in parts if p]

    def text(self) -> str:
        return "".join(self.pieces())


def _number_suffix(value: str, suffix: str) -> tuple[str, str]:
    return (value[: -len(suffix)], suffix) if value.endswith(suffix) else (value, "")


class VariantMaker:
    """Seeded messy variants of base addresses (see ``KINDS``)."""

    def __init__(self, addresses: pd.DataFrame, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.s2t = OpenCC("s2t")
        self.doors: dict[str, set[int]] = {}
        for road, door in zip(addresses["road"], addresses["door_number"], strict=True):
            if isinstance(road, str) and isinstance(door, str) and door.isdigit():
                self.doors.setdefault(road, set()).add(int(door))

    def pick(self, seq: tuple[str, ...] | str) -> str:
        return seq[int(self.rng.integers(len(seq)))]

    def make(self, row: dict[str, str | None]) -> tuple[str, list[str]]:
        road = row["road"] or ""
        rural = road.endswith("组") and (row["community"] or "").endswith("村")
        p = Parts(
            tuple(row[c] or "" for c in ADMIN),
            road,
            row["door_number"] or "",
            "号" if row["door_number"] else "",
            row["compound"] or "",
            row["building"] or "",
            row["unit"] or "",
            rural,
        )
        usable = [k for k in KINDS if self._applies(k, p)]
        k = int(self.rng.integers(1, 4))
        chosen = [usable[i] for i in self.rng.choice(len(usable), size=k, replace=False)]
        # Parts first, then the text as a whole; a kind an earlier one made moot is skipped
        # (no typo in a compound name road_only dropped).
        applied = []
        for kind in sorted(chosen, key=KINDS.index):
            if kind in _PART_KINDS and self._applies(kind, p):
                p = _PART_KINDS[kind](self, p)
                applied.append(kind)
        text = p.text()
        for kind in sorted(chosen, key=KINDS.index):
            if kind in _TEXT_KINDS:
                text = _TEXT_KINDS[kind](self, text, p)
                applied.append(kind)
        return text, applied

    def _applies(self, kind: str, p: Parts) -> bool:
        if kind in ("compound_only", "typo"):
            return bool(p.compound) and not p.rural
        if kind == "road_only":
            return bool(p.compound and p.road and p.door) and not p.rural
        if kind == "building_synonym":
            return p.building.endswith("栋")
        if kind in ("drop_hao", "unknown_door"):
            return p.door.isdigit() and bool(p.hao)
        return True

    # --- part kinds ----------------------------------------------------------------------
    def drop_prefix(self, p: Parts) -> Parts:
        keep_from = int(self.rng.integers(1, 4 if p.rural else 6))
        return replace(p, admin=("",) * keep_from + p.admin[keep_from:])

    def chinese_numerals(self, p: Parts) -> Parts:
        digitwise = bool(self.rng.random() < 0.3)
        door = cn_number(int(p.door), digitwise) if p.door.isdigit() else p.door
        road = p.road
        if p.rural:
            number, suffix = _number_suffix(road, "组")
            road = cn_number(int(number), False) + suffix if number.isdigit() else road
        b, bs = _number_suffix(p.building, "栋")
        u, us = _number_suffix(p.unit, "单元")
        building = cn_number(int(b), False) + bs if b.isdigit() else p.building
        unit = cn_number(int(u), False) + us if u.isdigit() else p.unit
        return replace(p, road=road, door=door, building=building, unit=unit)

    def building_synonym(self, p: Parts) -> Parts:
        return replace(p, building=p.building[:-1] + self.pick(SYNONYMS))

    def drop_hao(self, p: Parts) -> Parts:
        return replace(p, hao="")

    def compound_only(self, p: Parts) -> Parts:
        return replace(p, road="", door="", hao="")

    def road_only(self, p: Parts) -> Parts:
        return replace(p, compound="")

    def typo(self, p: Parts) -> Parts:
        name = p.compound
        i = int(self.rng.integers(len(name)))
        how = self.rng.random()
        if how < 0.4 and len(name) >= 3:
            name = name[:i] + name[i + 1 :]  # dropped
        elif how < 0.7 and len(name) >= 2:
            i = min(i, len(name) - 2)
            name = name[:i] + name[i + 1] + name[i] + name[i + 2 :]  # swapped neighbours
        else:
            name = name[:i] + self.pick(TYPO_CHARS) + name[i + 1 :]  # a wrong character
        return replace(p, compound=name)

    def unknown_door(self, p: Parts) -> Parts:
        known = self.doors.get(p.road, set()) if not p.rural else set()
        n = int(p.door)
        for step in (2, -2, 4, -4, 1, -1, 6, -6, 3, -3, 8, -8, 10, 20, 40):
            if n + step > 0 and n + step not in known:
                return replace(p, door=str(n + step))
        return p

    # --- text kinds ----------------------------------------------------------------------
    def fullwidth(self, text: str, p: Parts) -> str:
        return text.translate(_FULLWIDTH)

    def spaces_punct(self, text: str, p: Parts) -> str:
        """Separators between some of the parts, the compound sometimes in brackets."""
        pieces = p.pieces()
        if p.compound in pieces and self.rng.random() < 0.3:
            pieces[pieces.index(p.compound)] = f"（{p.compound}）"
        out = [pieces[0]]
        for piece in pieces[1:]:
            if self.rng.random() < 0.5:
                out.append(self.pick(SEPARATORS))
            out.append(piece)
        return "".join(out)

    def traditional(self, text: str, p: Parts) -> str:
        return str(self.s2t.convert(text))

    def noise(self, text: str, p: Parts) -> str:
        return text + self.pick(NOISE)


_PART_KINDS: dict[str, Callable[[VariantMaker, Parts], Parts]] = {
    "drop_prefix": VariantMaker.drop_prefix,
    "chinese_numerals": VariantMaker.chinese_numerals,
    "building_synonym": VariantMaker.building_synonym,
    "drop_hao": VariantMaker.drop_hao,
    "compound_only": VariantMaker.compound_only,
    "road_only": VariantMaker.road_only,
    "typo": VariantMaker.typo,
    "unknown_door": VariantMaker.unknown_door,
}
_TEXT_KINDS: dict[str, Callable[[VariantMaker, str, Parts], str]] = {
    "fullwidth": VariantMaker.fullwidth,
    "spaces_punct": VariantMaker.spaces_punct,
    "traditional": VariantMaker.traditional,
    "noise": VariantMaker.noise,
}


def prepare_store(sample: Path, scale: str, work: Path) -> Settings:
    """An embedded store with the sample imported and merged (reused when already there)."""
    settings = Settings(data_dir=work / "store", actor="bench")
    store = open_store(settings)
    try:
        print("importing and merging the sample city …", file=sys.stderr)
        run_demo(store, settings, sample, scale=scale, version_name=VERSION)
    finally:
        store.close()
    return settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sample_dir", nargs="?", type=Path)
    parser.add_argument("--scale", choices=("small", "city"), default="small")
    parser.add_argument("--variants", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3, help="timed runs; the best counts")
    parser.add_argument("--work", type=Path, help="keep the store here and reuse it")
    args = parser.parse_args()
    if args.scale == "city" and args.sample_dir is None and args.work is None:
        # The city store the other benchmarks share (bench/out/city), built once.
        run(ensure_published(), args, CITY_VERSION)
        return
    with tempfile.TemporaryDirectory(prefix="gridgis-address-") as tmp:
        work = args.work or Path(tmp)
        sample = args.sample_dir or (
            ROOT / "shapefiles" if args.scale == "small" else work / "sample"
        )
        run(prepare_store(sample, args.scale, work), args, VERSION)


def run(settings: Settings, args: argparse.Namespace, version: str) -> None:
    store = open_store(settings)
    try:
        addresses = store.read_base_layer("addresses")
        grids = store.read_grids(version)
    finally:
        store.close()
    grid_index = GridIndex(grids.geometry.to_numpy(), grids["code"].to_numpy())

    started = time.perf_counter()
    matcher = AddressMatcher.from_frame(addresses)
    build_s = time.perf_counter() - started

    rng = np.random.default_rng(args.seed)
    rows = rng.integers(len(addresses), size=args.variants)
    columns = [c for c in addresses.columns if c not in ("id", "geometry")]
    records = addresses[columns].astype(object).where(addresses[columns].notna(), None)
    as_dicts = records.to_dict("records")
    maker = VariantMaker(addresses, args.seed)
    queries, kinds = [], []
    for r in rows:
        text, chosen = maker.make(as_dicts[int(r)])
        queries.append(text)
        kinds.append(chosen)

    match_s = float("inf")
    for _ in range(args.runs):  # best of a few: the machine may be busy with other work
        canon_name.cache_clear()
        normalize.cache_clear()  # the timing includes normalising every query
        started = time.perf_counter()
        results = matcher.match_many(queries)
        match_s = min(match_s, time.perf_counter() - started)

    true_points = addresses.geometry.to_numpy()[rows]
    true_grid = grid_index.lookup(shapely.get_x(true_points), shapely.get_y(true_points))
    lon, lat = np.full(len(queries), np.nan), np.full(len(queries), np.nan)
    for i, res in enumerate(results):
        if isinstance(res, AddressMatch) and res.match is not None:
            lon[i], lat[i] = res.match.lon, res.match.lat
    got_grid = grid_index.lookup(lon, lat)
    right = np.array([g is not None and g == t for g, t in zip(got_grid, true_grid, strict=True)])
    true_text = addresses["address"].to_numpy()[rows]
    report(
        args,
        queries,
        kinds,
        results,
        right,
        true_text,
        {
            "base_addresses": len(addresses),
            "grids": len(grids),
            "build_s": round(build_s, 3),
            "match_s": round(match_s, 3),
        },
    )


def report(
    args: argparse.Namespace,
    queries: list[str],
    kinds: list[list[str]],
    results: list[AddressMatch | AddressError],
    right: np.ndarray,
    true_text: np.ndarray,
    figures: dict[str, float],
) -> None:
    """A small table, the worst cases and one JSON line with the figures."""
    n = len(queries)
    best = [r.match if isinstance(r, AddressMatch) else None for r in results]
    matched = np.array([m is not None for m in best])
    same = np.array(
        [m is not None and m.address == t for m, t in zip(best, true_text, strict=True)]
    )
    per_kind: dict[str, list[int]] = {k: [0, 0] for k in KINDS}
    for chosen, ok in zip(kinds, right, strict=True):
        for k in chosen:
            per_kind[k][0] += 1
            per_kind[k][1] += int(ok)
    flags = Counter(f for m in best if m is not None for f in m.flags)
    rate = n / figures["match_s"]
    print(
        f"{figures['base_addresses']} base addresses, {figures['grids']} grids; "
        f"matcher built in {figures['build_s']:.2f} s"
    )
    print(f"{'variants':<22}{n:>10}")
    print(f"{'addresses/s':<22}{rate:>10,.0f}")
    print(f"{'matched':<22}{matched.mean():>10.2%}")
    print(f"{'right grid (top-1)':<22}{right.mean():>10.2%}")
    print(f"{'same address':<22}{same.mean():>10.2%}")
    print("by kind (variants with it, right grid):")
    for k, (count, ok) in per_kind.items():
        if count:
            print(f"  {k:<20}{count:>8}{ok / count:>10.2%}")
    print(f"flags on matches: {dict(flags.most_common())}")
    wrong = np.flatnonzero(~right)[:12]
    if len(wrong):
        print("some misses:")
    for i in wrong:
        got = best[i].address if best[i] is not None else None  # type: ignore[union-attr]
        print(f"  {queries[i]!r} {kinds[i]} → {got} (true {true_text[i]})")
    summary = {
        "bench": "address_match",
        "scale": args.scale,
        "seed": args.seed,
        "variants": n,
        **figures,
        "addresses_per_s": round(rate),
        "matched": round(float(matched.mean()), 4),
        "right_grid": round(float(right.mean()), 4),
        "same_address": round(float(same.mean()), 4),
        "errors": sum(1 for r in results if isinstance(r, AddressError)),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
