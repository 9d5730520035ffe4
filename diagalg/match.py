"""Subdiagram matching: where does a small pattern diagram occur inside a target?

A *match* of a pattern :class:`~diagalg.model.Diagram` ``P`` in a target ``G``
maps every node of ``P`` to a distinct node of ``G`` with an equal operation,
every port of a pattern node to a port of its image, and every edge of ``P``
to an edge of ``G`` so that a pattern port on edge ``e`` goes to a target port
on the image of ``e``. The occurrence is a subgraph, not necessarily induced;
what else may touch the image is decided edge by edge:

* a pattern *internal* edge (no free label in ``P``) must go to a target edge
  with no free label whose ports are *exactly* the images of the pattern
  edge's ports. Otherwise the contraction the pattern describes is not the one
  the target performs (a third tensor on the edge makes it a hyperedge), and
  replacing it would be unsound. Two internal edges never share an image.
* a pattern *boundary* edge (carrying a free label) may go to any target edge
  of the same dimension: one with other ports (contracted with the rest of the
  target), other free labels, or the image of another boundary edge. Two
  boundary labels landing on one target edge is sound: the rule's identity
  holds for every value of its free labels, including equal ones, and the
  right-hand side's labels get glued to that same edge.

Operations are compared with ``==``: a tensor occurrence matches only the same
declaration with the same ``conj`` and the same ``inv`` count; copy tensors
match on dimension and arity; shifts, reshapes, boxes, bubbles and derivatives
on their full (structural) identity.

Ports of a copy tensor are interchangeable (it is fully symmetric), so a
pattern ``delta[i, j, k]`` matches a target copy tensor in any port order.
Declared leg symmetries of tensors (``symmetric``, ``antisymmetric``, real
projector/posdef matrices) are **not** used by default: a tensor's ports are
matched in their declared order. With ``leg_symmetries=True`` ports within one
symmetry class (as :mod:`diagalg.canonical` defines them, with its soundness
guards for ``inv``) may be permuted, and :attr:`Match.sign` carries the sign
of the permutation of antisymmetric legs. It is off by default because a rule
whose right side is its left side with legs swapped (``S[i, j] x[j] -> x[j]
S[j, i]`` for a symmetric ``S``) would then match its own result forever.

The search anchors on the pattern node with the fewest candidates in the
target and grows along edges already bound (candidates for the next node come
from the ports of one bound target edge), so a connected pattern costs about
(number of anchor candidates) x (pattern size) x (edge degree), never a scan
over subsets of the target. A pattern made of several connected pieces is
matched piece by piece (each piece anchored anew: a product of candidate
sets). Patterns with an edge touched by no port (a closed loop, an identity
``delta[i, j]`` kept as a bare edge, an all-ones vector) are refused: such an
edge has no occurrence to look for.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Iterable, Iterator

from .model import CopyTensor, Diagram, Op, TensorOp, permutation_sign

__all__ = ["Match", "Pattern", "find_matches"]


@dataclass(frozen=True)
class Match:
    """One occurrence of a pattern in a target.

    ``nodes[k]`` is the target node of pattern node ``k``; ``ports[k][p]`` is
    the target port index that pattern port ``p`` of node ``k`` is attached
    to (the identity unless ports were permuted); ``edges`` are (pattern edge,
    target edge) pairs sorted by pattern edge; ``sign`` is -1 when an odd
    permutation of antisymmetric legs was used (``leg_symmetries`` only), so
    that the target's nodes equal ``sign`` times the pattern instance.
    """

    nodes: tuple[int, ...]
    ports: tuple[tuple[int, ...], ...]
    edges: tuple[tuple[str, str], ...]
    sign: int = 1

    @cached_property
    def edge_map(self) -> dict[str, str]:
        """Pattern edge -> target edge."""
        return dict(self.edges)


def _op_key(op: Op) -> tuple:
    """A cheap hashable bucket key; operations in one bucket are then compared with ``==``."""
    if isinstance(op, TensorOp):
        return ("T", op.decl.name, op.conj, op.inv)
    if isinstance(op, CopyTensor):
        return ("C", op.arity)
    return (type(op).__name__, len(op.ports))


def _port_classes(op: Op, leg_symmetries: bool) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]:
    """(class id per port, antisymmetric port groups). Ports of one class may be permuted."""
    n = len(op.ports)
    if isinstance(op, CopyTensor):
        return (0,) * n, ()
    if leg_symmetries and isinstance(op, TensorOp):
        names, anti = op.port_classes(share_antisym=True)
        ids: dict[str, int] = {}
        classes = tuple(ids.setdefault(name, len(ids)) for name in names)
        return classes, anti
    return tuple(range(n)), ()


class Pattern:
    """A pattern diagram prepared for matching (reuse it for many targets).

    Raises ValueError when the pattern has no node or an edge touched by no port.
    """

    def __init__(self, diagram: Diagram, leg_symmetries: bool = False) -> None:
        self.diagram = diagram
        self.leg_symmetries = leg_symmetries
        if not diagram.nodes:
            raise ValueError("the pattern has no tensor to match")
        inc = diagram.incidence
        portless = sorted(e for e, ports in inc.items() if not ports)
        if portless:
            labels = diagram.edge_labels
            what = ", ".join(
                f"{'/'.join(labels[e])} (an identity or all-ones leg)" if labels[e] else f"{e} (a closed loop)"
                for e in portless
            )
            raise ValueError(f"the pattern has edges touched by no tensor, which cannot be matched: {what}")
        self.ops = [n.op for n in diagram.nodes]
        self.keys = [_op_key(op) for op in self.ops]
        self.edges = [n.edges for n in diagram.nodes]
        self.classes: list[tuple[int, ...]] = []
        self.members: list[dict[int, tuple[int, ...]]] = []  # per node: class -> port indices
        self.anti: list[tuple[tuple[int, ...], ...]] = []
        for op in self.ops:
            cls, anti = _port_classes(op, leg_symmetries)
            self.classes.append(cls)
            members: dict[int, list[int]] = {}
            for p, c in enumerate(cls):
                members.setdefault(c, []).append(p)
            self.members.append({c: tuple(ps) for c, ps in members.items()})
            self.anti.append(anti)
        self.permutable = any(len(ps) > 1 for m in self.members for ps in m.values())
        self.internal = {e for e in inc if not diagram.edge_labels[e]}
        self.incidence = {e: tuple(ports) for e, ports in inc.items()}
        self.dims = diagram.dims
        # pattern nodes sharing an edge
        self.adjacent: list[set[int]] = [set() for _ in self.ops]
        for ports in inc.values():
            for a, _ in ports:
                for b, _ in ports:
                    if a != b:
                        self.adjacent[a].add(b)

    def _order(self, counts: list[int]) -> list[int]:
        """Placement order: the rarest node first, then always a node next to a placed one."""
        n = len(self.ops)
        placed: list[int] = []
        seen: set[int] = set()
        while len(placed) < n:
            frontier = [k for k in range(n) if k not in seen and self.adjacent[k] & seen]
            pool = frontier or [k for k in range(n) if k not in seen]
            k = min(pool, key=lambda k: (counts[k], k))
            placed.append(k)
            seen.add(k)
        return placed


def find_matches(
    pattern: Diagram | Pattern, target: Diagram, *, leg_symmetries: bool = False, disjoint: bool = False
) -> Iterator[Match]:
    """Every occurrence of ``pattern`` in ``target`` (see the module docstring).

    Occurrences may overlap. Distinct occurrences differ in their node or edge
    assignment (a pattern with automorphisms occurs once per automorphism).
    ``leg_symmetries`` is used only when ``pattern`` is a Diagram (a
    :class:`Pattern` carries its own setting).

    With ``disjoint``, only occurrences sharing no target node with an earlier
    one are produced: exactly what a greedy pass keeping node-disjoint
    occurrences in this order would keep, found without enumerating the
    others (a pattern of k unconnected tensors has up to N^k occurrences).
    """
    pat = pattern if isinstance(pattern, Pattern) else Pattern(pattern, leg_symmetries)
    tnodes = target.nodes
    tinc = target.incidence
    tlabels = target.edge_labels
    tdims = target.dims

    buckets: dict[tuple, list[int]] = {}
    wanted = set(pat.keys)
    for t, node in enumerate(tnodes):
        key = _op_key(node.op)
        if key in wanted:
            buckets.setdefault(key, []).append(t)
    npat = len(pat.ops)
    cands: list[list[int]] = []
    for k in range(npat):
        op = pat.ops[k]
        cands.append([t for t in buckets.get(pat.keys[k], ()) if tnodes[t].op == op])
        if not cands[k]:
            return
    order = pat._order([len(c) for c in cands])
    position = {k: i for i, k in enumerate(order)}
    # for each placed node: a pattern edge already bound when it is placed (to find candidates)
    via: list[str | None] = []
    for i, k in enumerate(order):
        edge = None
        for e in pat.edges[k]:
            if any(position[m] < i for m, _ in pat.incidence[e]):
                edge = e
                break
        via.append(edge)
    # internal edges to verify once their last pattern node is placed
    complete: list[list[str]] = [[] for _ in order]
    for e in pat.internal:
        last = max(position[m] for m, _ in pat.incidence[e])
        complete[last].append(e)

    emap: dict[str, str] = {}
    images: dict[str, str] = {}  # target edge -> the pattern edge bound to it first
    internal_images: set[str] = set()
    node_of: dict[int, int] = {}  # pattern node -> target node
    used_nodes: set[int] = set()
    sigma: dict[int, tuple[int, ...]] = {}
    seen: set[tuple] = set()
    consumed: set[int] = set()  # target nodes of the occurrences produced (disjoint mode)
    start = [0] * npat  # disjoint mode: first candidate not consumed, per pattern node

    def bind_ok(e: str, f: str) -> bool:
        if f in internal_images:
            return False
        if pat.dims[e] != tdims[f]:
            return False
        if e in pat.internal:
            return f not in images and not tlabels[f] and len(tinc[f]) == len(pat.incidence[e])
        return True

    def assign(k: int, t: int, p: int, perm: list[int], taken: set[int]) -> Iterator[None]:
        """Attach pattern ports p.. of node k to ports of target node t (backtracking)."""
        if p == len(perm):
            yield
            return
        e = pat.edges[k][p]
        tedges = tnodes[t].edges
        for q in pat.members[k][pat.classes[k][p]]:
            if q in taken:
                continue
            f = tedges[q]
            bound = emap.get(e)
            if bound is None:
                if not bind_ok(e, f):
                    continue
                emap[e] = f
                fresh_image = f not in images
                if fresh_image:
                    images[f] = e
                if e in pat.internal:
                    internal_images.add(f)
                perm[p] = q
                taken.add(q)
                yield from assign(k, t, p + 1, perm, taken)
                taken.discard(q)
                internal_images.discard(f)
                if fresh_image:
                    del images[f]
                del emap[e]
            elif bound == f:
                perm[p] = q
                taken.add(q)
                yield from assign(k, t, p + 1, perm, taken)
                taken.discard(q)

    def exact(e: str) -> bool:
        f = emap[e]
        want = {(node_of[m], sigma[m][p]) for m, p in pat.incidence[e]}
        have = tinc[f]
        return len(have) == len(want) and want.issuperset(have)

    def place(i: int) -> Iterator[Match]:
        if i == npat:
            nodes = tuple(node_of[k] for k in range(npat))
            if disjoint:
                if consumed.intersection(nodes):
                    return
                consumed.update(nodes)
            edges = tuple(sorted(emap.items()))
            if pat.permutable:
                key = (nodes, edges)
                if key in seen:
                    return
                seen.add(key)
            sign = 1
            for k in range(npat):
                for group in pat.anti[k]:
                    pos = {q: r for r, q in enumerate(group)}
                    sign *= permutation_sign([pos[sigma[k][p]] for p in group])
            yield Match(nodes, tuple(sigma[k] for k in range(npat)), edges, sign)
            return
        k = order[i]
        op = pat.ops[k]
        e = via[i]
        options: Iterable[int]
        if e is None:
            c = cands[k]
            if disjoint:  # skip candidates consumed for good (consumed only grows)
                s0 = start[k]
                while s0 < len(c) and c[s0] in consumed:
                    s0 += 1
                start[k] = s0
                options = (c[j] for j in range(s0, len(c)))
            else:
                options = c
        else:
            options = []
            distinct: set[int] = set()
            for t, _ in tinc[emap[e]]:
                if t not in distinct:
                    distinct.add(t)
                    if tnodes[t].op == op:
                        options.append(t)
        for t in options:
            if t in used_nodes or t in consumed:
                continue
            node_of[k] = t
            used_nodes.add(t)
            perm = [0] * len(pat.edges[k])
            for _ in assign(k, t, 0, perm, set()):
                if t in consumed:  # an occurrence through t was produced (disjoint mode)
                    continue
                sigma[k] = tuple(perm)
                if all(exact(ed) for ed in complete[i]):
                    yield from place(i + 1)
                del sigma[k]
            used_nodes.discard(t)
            del node_of[k]
            if disjoint and not consumed.isdisjoint(used_nodes):
                # a node placed earlier on this path is consumed: every occurrence
                # below would reuse it
                return

    yield from place(0)
