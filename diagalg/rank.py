"""``expand E top K``: the K terms of an expansion with the largest norm, found by
best-first search with a proven upper bound, never by enumerating every term.

A search state is a partly expanded term: a diagram whose unexpanded sums are
still boxes. Its **bound** is an upper bound on the Frobenius norm of every term
that can be completed from it, the smaller of

    |c| · Π ‖node‖_F · Π sqrt(|e|) over hyperedges and self-loops

and, when the network is a forest, |c| · ‖root‖_F · Π ‖node‖_op, each node's
operator norm taken from the legs joining its parent to its other legs
(contracting outward from the root, ‖C·T‖_F ≤ ‖C‖_F ‖T‖_op), least over roots

where a box counts as the largest bound of its own terms, and a label fixed by
``over`` slices the tensors on it. This holds because contracting two tensors
over any set of shared indices obeys ‖A·B‖_F ≤ ‖A‖_F ‖B‖_F (Cauchy–Schwarz),
and an edge shared by three or more ports (or looping on one node) is a copy
tensor, of norm sqrt(|e|). States are popped by bound; a complete term is
evaluated and goes back with its exact norm, and is final when it is popped
again, since then no remaining state can beat it. Within the budget the result
is proven; past it, the best terms evaluated so far are returned, marked not
proven.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Iterator, Mapping

import numpy as np

from .expand import _position_tags, _split_edges, fix_values
from .model import BoxOp, CopyTensor, Diagram, Expr, IndexOp, Node, Term, replace_node
from .numeric.evaluate import evaluate
from .numeric.instance import Instance
from .rank_search import PROBE_AT, Score, forest_bound

if TYPE_CHECKING:
    import sympy

    from .expand import Path
    from .rank_search import Choice, _Search, _State

__all__ = ["Ranked", "TopResult", "top_terms"]


@dataclass(frozen=True)
class Ranked:
    """A ranked term: ``norm`` is what it was ranked by (its Frobenius norm, or
    ``|value|``), ``value`` its signed number when it has one: the contribution
    ``<M, term>`` under a metric, or the term itself when it is a scalar."""

    norm: float
    term: Term
    value: float | None = None


@dataclass(frozen=True)
class TopResult:
    terms: list[Ranked]
    proven: bool
    evaluated: int  # complete terms evaluated numerically
    states: int  # search states expanded
    seconds: float
    refined: int = 0  # popped states whose exact bound sent them back to the queue
    bounds: int = 0  # state bounds computed
    probed: int = 0  # states expanded by the work estimate
    estimate: float | None = None  # estimated states a proof needs (when it was estimated)
    stopped: str | None = None  # "budget" or "estimate" when not proven


class _Ranker:
    def __init__(self, inst: Instance, over: Mapping[str, int]) -> None:
        self.inst = inst
        self.over = dict(over)
        self._norms: dict[tuple, tuple[np.ndarray, object]] = {}
        self._maxbound: dict[int, tuple[float, Expr]] = {}
        self._ops: dict[tuple, tuple[float, object]] = {}

    # ------------------------------------------------------------------ norms and bounds

    def node_array(
        self, node: Node, fixed: Mapping[str, int], dims: Mapping[str, object]
    ) -> tuple[np.ndarray, list[str]]:
        """The node's array with labels on fixed edges sliced away, and its remaining axes'
        edges (a repeated edge appears once: the diagonal)."""
        op = node.op
        pos = tuple((k, fixed[e]) for k, e in enumerate(node.edges) if e in fixed)
        key = (id(op), pos, tuple(node.edges[i] == node.edges[j] for i in range(len(node.edges)) for j in range(i)))
        order = list(dict.fromkeys(node.edges))
        if key not in self._norms:
            edge_of = {e: f"p{k}" for k, e in enumerate(order)}
            d = Diagram.build(
                [Node(op, tuple(edge_of[e] for e in node.edges))],
                {edge_of[e]: dims[e] for e in order},
                {v: v for v in edge_of.values()},
            )
            arr = evaluate(Expr.single(d), self.inst, [edge_of[e] for e in order]).array
            index: list[slice | int] = [slice(None)] * arr.ndim
            for k, v in pos:
                index[order.index(node.edges[k])] = v
            self._norms[key] = (arr[tuple(index)], op)  # keep op alive: its id is the key
        return self._norms[key][0], [e for e in order if e not in fixed]

    def node_norm(self, node: Node, fixed: Mapping[str, int], dims: Mapping[str, object]) -> float:
        op = node.op
        if isinstance(op, IndexOp):
            return 1.0
        if isinstance(op, BoxOp):
            return self.max_bound(op.inner)
        if isinstance(op, CopyTensor):
            if not node.edges:
                return float(self.inst.size(op.dim))  # a legless copy tensor is its dimension
            return 1.0 if any(e in fixed for e in node.edges) else math.sqrt(self.inst.size(op.dim))
        arr, _ = self.node_array(node, fixed, dims)
        return float(np.linalg.norm(arr))

    def op_norm(self, node: Node, into: set[str], fixed: Mapping[str, int], dims: Mapping[str, object]) -> float:
        """The operator norm of the node read as a map from its legs on ``into`` to its
        other legs (at most its Frobenius norm)."""
        op = node.op
        if isinstance(op, BoxOp):
            return self.max_bound(op.inner)
        if isinstance(op, CopyTensor):
            return 1.0  # a copy tensor as a matrix has one 1 per row and column
        pos = tuple((k, fixed[e]) for k, e in enumerate(node.edges) if e in fixed)
        key = (
            id(op),
            pos,
            tuple(e in into for e in node.edges),
            tuple(node.edges[i] == node.edges[j] for i in range(len(node.edges)) for j in range(i)),
        )
        if key not in self._ops:
            self._ops[key] = (self._op_norm(node, into, fixed, dims), op)
        return self._ops[key][0]

    def _op_norm(self, node: Node, into: set[str], fixed: Mapping[str, int], dims: Mapping[str, object]) -> float:
        arr, axes = self.node_array(node, fixed, dims)
        first = [k for k, e in enumerate(axes) if e in into]
        rest = [k for k in range(len(axes)) if k not in first]
        if not first or not rest:
            return float(np.linalg.norm(arr))
        rows = int(np.prod([arr.shape[k] for k in first]))
        m = np.transpose(arr, first + rest).reshape(rows, -1)
        return float(np.linalg.norm(m, 2))

    def tree_bound(self, d: Diagram, fixed: Mapping[str, int], unsliced: frozenset = frozenset()) -> float | None:
        """A tighter bound when the network is a forest (no hyperedges, loops or cycles):
        contracting outward from a root, each node multiplies the norm by at most its
        operator norm from the legs joining its parent to its other legs. The least over
        roots, per connected piece. None when the network is not a forest. Edges in
        ``unsliced`` will be fixed to some value later: they are left out of the graph and
        kept whole in the arrays (a slice's norms are at most the whole tensor's)."""
        nodes = [i for i, n in enumerate(d.nodes) if not isinstance(n.op, IndexOp)]
        free = set(d.free_map.values())
        between: dict[tuple[int, int], set[str]] = {}
        for e, ports in d.incidence.items():
            if e in fixed or e in unsliced:
                continue
            owners = [i for i, _ in ports]
            if len(owners) + (1 if e in free else 0) >= 3 or (len(owners) == 2 and owners[0] == owners[1]):
                return None
            if len(owners) == 2:
                between.setdefault((min(owners), max(owners)), set()).add(e)
        return forest_bound(
            nodes,
            between,
            lambda root: self.node_norm(d.nodes[root], fixed, d.dims),
            lambda v, _u, edges: self.op_norm(d.nodes[v], edges, fixed, d.dims),
        )

    def bound(self, coeff: sympy.Expr, d: Diagram) -> float:
        fixed = {n.edges[0]: n.op.value for n in d.nodes if isinstance(n.op, IndexOp)}
        scale = abs(complex(self.inst.scalar(coeff)))
        tree = self.tree_bound(d, fixed)
        return scale * min(self._product_bound(d, fixed), tree if tree is not None else math.inf)

    def _product_bound(self, d: Diagram, fixed: Mapping[str, int]) -> float:
        out = 1.0
        dims = d.dims
        for n in d.nodes:
            out *= self.node_norm(n, fixed, dims)
            if out == 0.0:
                return 0.0
        free = set(d.free_map.values())
        for e, ports in d.incidence.items():
            if e in fixed:
                continue
            inc = len(ports) + (1 if e in free else 0)
            nodes = {i for i, _ in ports}
            if inc >= 3 or (inc == 2 and len(nodes) == 1):
                out *= math.sqrt(self.inst.size(dims[e]))
        return out

    def split_edges(self, d: Diagram, among: Iterable[str] | None = None) -> list[str]:
        return _split_edges(d, self.over, among)

    def max_bound(self, e: Expr) -> float:
        """The largest bound over the terms of ``e`` (split labels counted unsliced)."""
        key = id(e)
        if key not in self._maxbound:
            best = 0.0
            for t in e.terms:
                split = self.split_edges(t.diagram)
                d = t.diagram
                if split:  # fixing a label cannot raise a norm: bound with the whole tensors
                    d = Diagram.build(
                        d.nodes + tuple(Node(IndexOp(-1, d.dims[x]), (x,)) for x in split), d.dims, d.free_map
                    )
                tree = self.tree_bound(t.diagram, {}, frozenset(split))
                best = max(
                    best,
                    min(
                        self._bound_unsliced(t.coeff, d),
                        abs(complex(self.inst.scalar(t.coeff))) * tree if tree is not None else math.inf,
                    ),
                )
            self._maxbound[key] = (best, e)
        return self._maxbound[key][0]

    def _bound_unsliced(self, coeff: sympy.Expr, d: Diagram) -> float:
        fixed = {n.edges[0] for n in d.nodes if isinstance(n.op, IndexOp)}
        out = abs(complex(self.inst.scalar(coeff)))
        for n in d.nodes:
            out *= self.node_norm(n, {}, d.dims)
        free = set(d.free_map.values())
        for e, ports in d.incidence.items():
            if e in fixed:
                continue
            inc = len(ports) + (1 if e in free else 0)
            if inc >= 3 or (inc == 2 and len({i for i, _ in ports}) == 1):
                out *= math.sqrt(self.inst.size(d.dims[e]))
        return out

    # ------------------------------------------------------------------ children of a state

    def fix(
        self, coeff: sympy.Expr, d: Diagram, tags: tuple[str, ...], new_edges: Iterable[str]
    ) -> list[tuple[sympy.Expr, Diagram, tuple[str, ...]]]:
        return [(coeff, d2, tags + fixed) for d2, fixed in fix_values(d, self.split_edges(d, new_edges), self.over)]

    def children(
        self, coeff: sympy.Expr, d: Diagram, tags: tuple[str, ...]
    ) -> Iterator[tuple[sympy.Expr, Diagram, tuple[str, ...]]]:
        at = next(k for k, n in enumerate(d.nodes) if isinstance(n.op, BoxOp))
        box = d.nodes[at].op
        assert isinstance(box, BoxOp)  # the node just found
        inner = box.inner
        for k, t in enumerate(inner.terms, 1):
            d2 = replace_node(d, at, t.diagram)
            new_edges = [e for e in d2.dims if e not in d.dims]
            yield from self.fix(coeff * t.coeff, d2, tags + _position_tags(inner, k, t), new_edges)


#: the default budget of ``top K``: expanded search states
MAX_STATES = 50_000


def top_terms(
    expr: Expr,
    k: int,
    inst: Instance,
    over: Mapping[str, int] | None = None,
    max_states: int = MAX_STATES,
    max_seconds: float = 20.0,
    metric: np.ndarray | None = None,
    probe_at: int = PROBE_AT,
) -> TopResult:
    """The ``k`` terms of ``expand expr [over ...]`` with the largest Frobenius norm on the
    instance ``inst`` (lets unfolded), or with the largest ``|<metric, term>|`` when a
    metric array (on ``expr.labels``, in order) is given. Promise: when ``proven``, no
    other term scores higher than the last one listed.

    The search (:mod:`diagalg.rank_search`) contracts each state's chosen tensors
    exactly and bounds only its unexpanded sums; children get a bound derived from
    their parent's without contracting, refined when popped. After ``probe_at``
    expanded states it estimates the states a proof needs and, when that is more than
    ten times the budget left (the estimate prunes at the K-th best score found so
    far, a lower bound, so it errs high), stops at once (``stopped == "estimate"``)
    with the best found.
    ``max_states`` counts expanded states; ``max_seconds`` is a last guard only."""
    from .rank_search import _Search

    labels = list(expr.labels)
    score = Score(labels, metric)
    r = _Ranker(inst, over or {})
    search = _Search(expr, inst, over or {}, metric, r.node_array)
    t0 = time.perf_counter()
    heap: list = []
    counter = itertools.count()

    def push(b: float, done: bool, item: _State | tuple[_State, Choice] | Term, value: float | None = None) -> None:
        heapq.heappush(heap, (-b, next(counter), done, item, value))

    for c in search.children(search.root):
        b = search.bound(c)
        if b > 0.0:
            push(b, False, c)
    found: list[Ranked] = []
    states = evaluated = refined = probed = 0
    proven, stopped, estimate = True, None, None
    while heap and len(found) < k:
        if states >= max_states or time.perf_counter() - t0 > max_seconds:
            proven, stopped = False, "budget"
            break
        if estimate is None and states >= probe_at:
            floor, dived = _floor(search, heap, found, k, score)
            evaluated += dived
            estimate, probed = search.estimate(floor)
            if estimate > 10 * (max_states - states):
                proven, stopped = False, "estimate"
                break
        neg, _, done, s, value = heapq.heappop(heap)
        if done:
            found.append(Ranked(-neg, s, value))
            continue
        if isinstance(s, tuple):  # a child not yet made: (its parent, the choice)
            s = search.make(*s)
        b = -neg
        if not s.exact:
            search.merge(s)
            b = min(b, search.bound(s))
            if heap and b < -heap[0][0]:
                refined += 1
                if b > 0.0:
                    push(b, False, s)
                continue
        if not s.boxes:
            size, value, term = search.evaluate(s, score)
            evaluated += 1
            push(size, True, term, value)
            continue
        states += 1
        for choice in search.choices(s.boxes[0][0]):
            cb = search.derived(s, b, choice)
            if cb > 0.0:
                push(cb, False, (s, choice))
    if len(found) < k and not proven:
        # stopped early: complete the most promising open states greedily and keep the
        # best complete terms seen; the ranking is then not proven
        seen = {r.term.tags for r in found}
        extra = [(-neg, t, v) for neg, _, done, t, v in heap if done]
        for _, _, _, s, _ in heapq.nsmallest(k, [x for x in heap if not x[2]]):
            size, value, term = search.evaluate(search.dive(search.make(*s) if isinstance(s, tuple) else s), score)
            evaluated += 1
            extra.append((size, term, value))
        extra.sort(key=lambda x: -x[0])
        for size, term, value in extra:
            if len(found) >= k:
                break
            if term.tags not in seen:
                seen.add(term.tags)
                found.append(Ranked(size, term, value))
    return TopResult(
        found,
        proven,
        evaluated,
        states,
        time.perf_counter() - t0,
        refined=refined,
        bounds=search.bounds,
        probed=probed,
        estimate=estimate,
        stopped=stopped,
    )


def _floor(search: _Search, heap: list, found: list[Ranked], k: int, score: Score) -> tuple[float, int]:
    """The K-th best score among the terms known so far (listed, evaluated, and greedy
    completions of the K best open states): a lower bound on the true K-th best, the
    pruning level of the work estimate. Returns it and the terms evaluated for it."""
    scores = [r.norm for r in found] + [-neg for neg, _, done, _, _ in heap if done]
    scores.append(search.evaluate(search.dive(search.root), score)[0])
    dived = 1
    for _, _, _, s, _ in heapq.nsmallest(k, [x for x in heap if not x[2]]):
        scores.append(search.evaluate(search.dive(search.make(*s) if isinstance(s, tuple) else s), score)[0])
        dived += 1
    scores.sort(reverse=True)
    return (scores[k - 1] if len(scores) >= k else (scores[-1] if scores else 0.0)), dived


@dataclass(frozen=True)
class TopPaths:
    paths: list[tuple[float, Path]]  # (norm or |contribution|, the path), largest first
    proven: bool  # every path was evaluated
    evaluated: int
    seconds: float
    values: list[float | None] = field(default_factory=list)  # signed contribution of each listed path
    total: float | None = None  # the sum of every evaluated path's signed value
    all_exact: bool = True  # no evaluated path went through a nonlinear bubble


def top_paths(
    expr: Expr,
    k: int,
    inst: Instance,
    over: Mapping[str, int] | None = None,
    max_paths: int = 100_000,
    max_seconds: float = 60.0,
    metric: np.ndarray | None = None,
    skips: frozenset[str] = frozenset(),
) -> TopPaths:
    """The ``k`` paths of ``paths expr [over ...]`` with the largest Frobenius norm on ``inst``,
    or with the largest ``|<metric, path>|`` when a metric array is given.

    Paths pass through nonlinear bubbles, where no product bound holds, so they are
    streamed and each evaluated (bubbles shared by many paths are evaluated once);
    the ranking is proven when every path was evaluated within the budget."""
    from .expand import paths

    labels = list(expr.labels)
    score = Score(labels, metric)
    total = 0.0
    all_exact = True
    inst.share_bubbles()  # paths share their bubbles: each is evaluated once
    t0 = time.perf_counter()
    best: list[tuple[float, int, float | None, Path]] = []  # a min-heap of the k largest: (size, -n, value, path)
    evaluated = 0
    proven = True
    for n, p in enumerate(paths(expr, over, skips)):
        if evaluated >= max_paths or time.perf_counter() - t0 > max_seconds:
            proven = False
            break
        size, value = score.of(evaluate(Expr.of([p.term], expr.free_dims), inst, labels).array)
        evaluated += 1
        total += value or 0.0
        all_exact = all_exact and not p.approximate
        item = (size, -n, value, p)
        if len(best) < k:
            heapq.heappush(best, item)
        elif item[:2] > best[0][:2]:
            heapq.heapreplace(best, item)
    ranked = sorted(best, key=lambda x: (-x[0], -x[1]))
    return TopPaths(
        [(size, p) for size, _, _, p in ranked],
        proven,
        evaluated,
        time.perf_counter() - t0,
        [v for _, _, v, _ in ranked],
        total if score.signed else None,
        all_exact,
    )
