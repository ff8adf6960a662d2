"""Looking up one road or compound name among the few thousand distinct ones of a city.

Exact first, then aliases (the name without its admin prefix or a trailing 小区), then
names one edit away, found by dictionary lookups of single-character deletions (the
SymSpell idea: a dropped, added, changed or swapped character leaves a shared deletion),
and only then a rapidfuzz scan, which costs a hundred times more per query.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rapidfuzz import fuzz, process

ALIAS_SIMILARITY = 0.97
FUZZY_CUTOFF = 60.0  # rapidfuzz ratio, 0..100
MIN_FUZZY_LENGTH = 3  # one edit away from a two-character name is anything


def _deletions(name: str) -> set[str]:
    return {name[:i] + name[i + 1 :] for i in range(len(name))}


class NameIndex:
    """Distinct names, each found by its own spelling, its aliases or a near miss."""

    def __init__(self, names: Iterable[str], aliases: Callable[[str], Iterable[str]]) -> None:
        self.names: list[str] = sorted(set(names))
        self.exact: frozenset[str] = frozenset(self.names)
        alias: dict[str, list[str]] = {}
        deletes: dict[str, list[str]] = {}
        for name in self.names:
            for a in aliases(name):
                if a and a != name and a not in self.exact:
                    alias.setdefault(a, []).append(name)
            if len(name) >= MIN_FUZZY_LENGTH:
                for d in _deletions(name):
                    deletes.setdefault(d, []).append(name)
        # tuples: the garbage collector stops scanning them, lists it scans on every pass
        self.alias = {k: tuple(v) for k, v in alias.items()}
        self.deletes = {k: tuple(v) for k, v in deletes.items()}

    def __contains__(self, name: object) -> bool:
        return name in self.exact

    def __len__(self) -> int:
        return len(self.names)

    def find(self, name: str) -> list[tuple[str, float]]:
        """Names known under ``name`` exactly (similarity 1) or as an alias."""
        if name in self.exact:
            return [(name, 1.0)]
        return [(n, ALIAS_SIMILARITY) for n in self.alias.get(name, ())]

    def near(self, name: str, limit: int = 10) -> list[tuple[str, float]]:
        """Names one edit away, else the closest by rapidfuzz; similarity 0..1, best first.

        Ties are common (祥和城 is one edit from 祥和尚城 and 祥和花城), so several come
        back and the rest of the address (building, community) decides between them.
        """
        found: set[str] = set()
        if len(name) >= MIN_FUZZY_LENGTH - 1:
            found.update(self.deletes.get(name, ()))  # the query dropped a character
            for d in _deletions(name):
                if d in self.exact:
                    found.add(d)  # the query has one character too many
                found.update(self.deletes.get(d, ()))  # changed or swapped
        if found:
            scored = [(n, fuzz.ratio(name, n) / 100.0) for n in found]
        else:
            scored = [
                (n, s / 100.0)
                for n, s, _ in process.extract(
                    name, self.names, scorer=fuzz.ratio, limit=limit, score_cutoff=FUZZY_CUTOFF
                )
            ]
        scored.sort(key=lambda p: (-p[1], p[0]))
        return scored[:limit]
