"""Group a community's atoms into contiguous grids of min…max households.

Three steps, each cheap and deterministic (ties break on atom order):

1. Agglomeration: the smallest group under the minimum joins the neighbour that takes it
   into the band (else the one that grows it most without passing the maximum),
   preferring neighbours in the same department grids and across borders that follow no
   street — grids grow compact, keep department grids whole where they can and leave
   their borders on streets and walls.
2. Ejection chains: a group still under the minimum takes a border atom from a neighbour;
   if that leaves the neighbour short, the neighbour does the same, up to a few steps —
   the augmenting paths that turn a greedy matching into a maximum one.
3. Exact repair: what is still short is re-divided together with its neighbours by
   dynamic programming over every connected grouping of the atoms involved.

Groups are merged only along shared borders, so every grid is contiguous, and never past
the maximum, except that a short group may join a unit that is over it alone (a building
too large to cut): every grid over the maximum holds such a unit.
"""

from __future__ import annotations

import functools
import heapq
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

CHAIN_DEPTH = 6  # groups an ejection chain may pass through
REPAIR_ATOMS = 18  # largest neighbourhood re-divided exactly around a group still short


@dataclass
class Graph:
    """A community's atoms: households, adjacency, department-grid labels."""

    weights: NDArray[np.int64]
    edges: NDArray[np.int64]  # (m, 2)
    edge_off_street: NDArray[np.float64]
    labels: NDArray[np.int64]  # (n, d): department grid id per atom, -1 for none
    fixed: NDArray[np.bool_]  # atoms that are grids of their own (dedicated units)

    def __len__(self) -> int:
        return len(self.weights)


@dataclass
class Part:
    atoms: list[int]
    households: int
    reason: str | None = None  # why it is outside the band, when it is


def partition(
    graph: Graph, low: int, high: int, unit_name: Callable[[int], str] | None = None
) -> list[Part]:
    """Grids of the band from the graph's atoms; ``unit_name`` says what an atom is (a
    building, a compound kept whole …) for the reason an oversize grid gives."""
    name = unit_name or (lambda a: f"a unit of {int(graph.weights[a])} households cannot be cut")
    parts = [
        Part([int(i)], int(graph.weights[i]), "dedicated") for i in np.flatnonzero(graph.fixed)
    ]
    free = np.flatnonzero(~graph.fixed)
    if len(free) == 0:
        return parts
    groups = _Agglomeration(graph, free, low, high)
    groups.merge_small()
    groups.chains()
    groups.repair()
    if graph.fixed.any():
        where = "area between dedicated grids"
    else:
        where = "community" if len(groups.components) == 1 else "part of the community"
    for component in groups.components:
        total = int(graph.weights[component].sum())
        for members in groups.result(component):
            hh = int(graph.weights[members].sum())
            why: str | None
            if hh > high:
                why = _why_over(members, graph.weights, name)
            elif hh < low:
                gid = groups.group[members[0]]
                beside = [groups.hh[h] for h in groups.neighbours(gid)]
                why = _why_under(hh, total, low, high, where, beside)
            else:
                why = None
            parts.append(Part(members, hh, why))
    return parts


def _why_under(hh: int, total: int, low: int, high: int, where: str, beside: list[int]) -> str:
    """Why a grid is short, from what is true of it: its area's total, or its
    neighbouring grids (``beside``: their households)."""
    if total < low:
        return f"{where} has {total} households, too few for a grid of {low}"
    if -(-total // high) > total // low:
        return f"the {total} households here cannot be divided into grids of {low}–{high}"
    if all(hh + other > high for other in beside):
        return "its neighbours are too large to share households with it"
    return (
        f"no regrouping with its neighbours was found that brings it to {low} without "
        "leaving another grid outside the band"
    )


def _why_over(members: list[int], weights: NDArray[np.int64], name: Callable[[int], str]) -> str:
    """What forces a grid over the maximum: its largest unit, by name — a unit over the
    maximum alone, which at most a short neighbour has joined."""
    largest = max(members, key=lambda a: (int(weights[a]), -a))
    return name(largest)


class _Agglomeration:
    """Groups of atoms (global atom ids), merged, mended and repaired."""

    def __init__(self, graph: Graph, free: NDArray[np.int64], low: int, high: int) -> None:
        self.graph, self.low, self.high = graph, low, high
        self.weight = graph.weights.tolist()
        self.adj: dict[int, dict[int, float]] = {int(a): {} for a in free}
        for (a, b), off in zip(graph.edges.tolist(), graph.edge_off_street.tolist(), strict=True):
            if a in self.adj and b in self.adj:
                self.adj[a][b] = off
                self.adj[b][a] = off
        self.atom_labels = {
            a: frozenset(int(x) + d * 1_000_000 for d, x in enumerate(graph.labels[a]) if x >= 0)
            for a in self.adj
        }
        self.group = {a: a for a in self.adj}
        self.members: dict[int, list[int]] = {a: [a] for a in self.adj}
        self.hh = {a: self.weight[a] for a in self.adj}
        self.journal: list[tuple[int, int]] = []  # (atom, group it left), for undoing chains
        self.next_id = max(self.adj) + 1
        self.components = self._components()

    # --- bookkeeping ---------------------------------------------------------------------
    def _components(self) -> list[list[int]]:
        seen: set[int] = set()
        out = []
        for start in sorted(self.adj):
            if start in seen:
                continue
            stack, comp = [start], []
            seen.add(start)
            while stack:
                a = stack.pop()
                comp.append(a)
                for b in self.adj[a]:
                    if b not in seen:
                        seen.add(b)
                        stack.append(b)
            out.append(sorted(comp))
        return out

    def neighbours(self, g: int) -> dict[int, float]:
        """Neighbouring groups and the border length that follows no street."""
        out: dict[int, float] = {}
        for a in self.members[g]:
            for b, off in self.adj[a].items():
                h = self.group[b]
                if h != g:
                    out[h] = out.get(h, 0.0) + off
        return out

    def labels(self, g: int) -> frozenset[int]:
        return frozenset().union(*(self.atom_labels[a] for a in self.members[g]))

    def _merge(self, g: int, h: int) -> int:
        keep, gone = min(g, h), max(g, h)
        for atom in self.members[gone]:
            self.group[atom] = keep
        self.members[keep] = sorted(self.members[keep] + self.members.pop(gone))
        self.hh[keep] += self.hh.pop(gone)
        return keep

    def _move(self, atom: int, to: int, record: bool = True) -> None:
        src = self.group[atom]
        self.members[src].remove(atom)
        self.hh[src] -= self.weight[atom]
        if not self.members[src]:
            del self.members[src], self.hh[src]
        if to not in self.members:  # a group emptied earlier comes back under its id
            self.members[to], self.hh[to] = [], 0
        self.members[to] = sorted([*self.members[to], atom])
        self.hh[to] += self.weight[atom]
        self.group[atom] = to
        if record:
            self.journal.append((atom, src))

    def _undo(self, mark: int) -> None:
        while len(self.journal) > mark:
            atom, src = self.journal.pop()
            self._move(atom, src, record=False)

    def _connected_without(self, g: int, atom: int) -> bool:
        rest = [a for a in self.members[g] if a != atom]
        if len(rest) <= 1:
            return True
        seen = {rest[0]}
        stack = [rest[0]]
        allowed = set(rest)
        while stack:
            a = stack.pop()
            for b in self.adj[a]:
                if b in allowed and b not in seen:
                    seen.add(b)
                    stack.append(b)
        return len(seen) == len(rest)

    # --- step 1: agglomeration -----------------------------------------------------------
    def _partner(self, g: int) -> int | None:
        best: tuple[tuple[float, ...], int] | None = None
        mine = self.labels(g)
        middle = (self.low + self.high) / 2
        for h, off in sorted(self.neighbours(g).items()):
            size = self.hh[g] + self.hh[h]
            if size > self.high and not self._too_large_alone(h):
                continue
            key = (
                size >= self.low,  # reaches the band
                len(mine & self.labels(h)),  # same department grids
                off,  # hides a border that follows no street
                -abs(size - middle) if size >= self.low else size,
                -h,
            )
            if best is None or key > best[0]:
                best = (key, h)
        return None if best is None else best[1]

    def _too_large_alone(self, h: int) -> bool:
        """A group that is one atom over the maximum (a building too large to cut): it is
        over whatever joins it, so a short neighbour may join it rather than stay out."""
        return len(self.members[h]) == 1 and self.hh[h] > self.high

    def merge_small(self) -> None:
        heap = [(hh, g) for g, hh in self.hh.items() if hh < self.low]
        heapq.heapify(heap)
        while heap:
            hh, g = heapq.heappop(heap)
            if g not in self.hh or self.hh[g] != hh:
                continue
            h = self._partner(g)
            if h is None:
                continue
            merged = self._merge(g, h)
            if self.hh[merged] < self.low:
                heapq.heappush(heap, (self.hh[merged], merged))

    # --- step 2: ejection chains ---------------------------------------------------------
    def short(self) -> list[int]:
        return sorted(g for g, hh in self.hh.items() if hh < self.low)

    def chains(self) -> None:
        for g in self.short():
            if g in self.hh and self.hh[g] < self.low:
                self._mend(g, CHAIN_DEPTH, frozenset())
                self.journal.clear()

    def _mend(self, g: int, depth: int, visited: frozenset[int]) -> bool:
        """Bring short group ``g`` into the band, pulling atoms along a chain of groups."""
        if self.hh[g] >= self.low:
            return True
        if depth == 0:
            return False
        visited = visited | {g}
        for n in sorted(self.neighbours(g)):
            if n in visited:
                continue
            # Atoms of n on the border with g, largest first.
            border = sorted(
                {b for a in self.members[g] for b in self.adj[a] if self.group[b] == n},
                key=lambda b: (-self.weight[b], b),
            )
            for atom in border:
                if self.hh[g] + self.weight[atom] > self.high:
                    continue
                if not self._connected_without(n, atom):
                    continue
                mark = len(self.journal)
                self._move(atom, g)
                donor_ok = (
                    n not in self.hh or self.hh[n] >= self.low or self._mend(n, depth - 1, visited)
                )
                if donor_ok and self._mend(g, depth - 1, visited):
                    return True
                self._undo(mark)
        return False

    # --- step 3: exact repair ------------------------------------------------------------
    def repair(self) -> None:
        for g in self.short():
            if g not in self.hh or self.hh[g] >= self.low:
                continue
            region = self._region(g)
            if len(region) == 1:
                continue
            atoms = sorted(a for r in region for a in self.members[r])
            before = sum(not self.low <= self.hh[r] <= self.high for r in region)
            grouping = _exact(atoms, self.weight, self.adj, self.low, self.high)
            after = sum(
                not self.low <= sum(self.weight[a] for a in m) <= self.high for m in grouping
            )
            if after < before:
                for r in region:
                    del self.members[r], self.hh[r]
                for members in grouping:
                    gid = self.next_id  # fresh: after chains an atom id may name another group
                    self.next_id += 1
                    self.members[gid] = sorted(members)
                    self.hh[gid] = sum(self.weight[a] for a in members)
                    for a in members:
                        self.group[a] = gid

    def _region(self, g: int) -> list[int]:
        """``g`` and the groups around it, ring by ring, smallest first, up to
        ``REPAIR_ATOMS`` atoms: the neighbourhood the exact repair may rearrange."""
        region = [g]
        size = len(self.members[g])
        frontier = [g]
        while frontier:
            ring: set[int] = set()
            for f in frontier:
                ring |= set(self.neighbours(f))
            ring -= set(region)
            frontier = []
            for h in sorted(ring, key=lambda h: (self.hh[h], h)):
                if size + len(self.members[h]) > REPAIR_ATOMS:
                    return region
                region.append(h)
                frontier.append(h)
                size += len(self.members[h])
        return region

    def result(self, component: list[int]) -> list[list[int]]:
        ids = sorted({self.group[a] for a in component})
        return [self.members[g] for g in ids]


def _exact(
    atoms: list[int], weight: list[int], adj: dict[int, dict[int, float]], low: int, high: int
) -> list[list[int]]:
    """The grouping of ``atoms`` into connected groups with the fewest outside the band
    (then the least total distance from the band), by dynamic programming over subsets;
    no group of several atoms passes the maximum."""
    n = len(atoms)
    index = {a: i for i, a in enumerate(atoms)}
    w = [weight[a] for a in atoms]
    neighbours = [0] * n
    for a in atoms:
        for b in adj[a]:
            if b in index:
                neighbours[index[a]] |= 1 << index[b]

    def groups_with(first: int, allowed: int) -> list[tuple[int, int]]:
        """Connected sets (bitmask, households) holding ``first`` within ``allowed``."""
        out = []
        seen = set()
        stack = [(1 << first, w[first])]
        while stack:
            mask, total = stack.pop()
            if mask in seen:
                continue
            seen.add(mask)
            if total > high:
                if mask & (mask - 1) == 0:
                    out.append((mask, total))  # one unit over the maximum: a grid as it is
                continue  # several units together over the maximum are never a grid
            out.append((mask, total))
            frontier = 0
            rest = mask
            while rest:
                bit = rest & -rest
                frontier |= neighbours[bit.bit_length() - 1]
                rest ^= bit
            frontier &= allowed & ~mask
            while frontier:
                bit = frontier & -frontier
                frontier ^= bit
                stack.append((mask | bit, total + w[bit.bit_length() - 1]))
        return out

    @functools.cache
    def best(mask: int) -> tuple[tuple[int, float], tuple[int, ...]]:
        if mask == 0:
            return (0, 0.0), ()
        first = (mask & -mask).bit_length() - 1
        choice: tuple[tuple[int, float], tuple[int, ...]] | None = None
        for group, total in groups_with(first, mask):
            stray = max(low - total, total - high, 0)
            (bad, dist), rest = best(mask & ~group)
            cost = (bad + (stray > 0), dist + stray)
            if choice is None or cost < choice[0]:
                choice = (cost, (group, *rest))
        assert choice is not None
        return choice

    _, groups = best((1 << n) - 1)
    return [[atoms[i] for i in range(n) if g >> i & 1] for g in groups]
