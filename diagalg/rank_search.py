"""The search behind ``expand E top K``: best-first over partly expanded terms, with
each state's chosen tensors contracted exactly and only its unexpanded sums bounded.

A state is a partial term: the summands chosen so far (their tensors, sliced where
``over`` fixed a label) and the sums still unexpanded (boxes). Its chosen tensors
are kept as **pieces**, each the exact contraction of a connected group of them
(``F12[5] F11[5] ...`` is one 16x16 matrix, not twelve factors), so that the bound

    |c| · bound of the network (pieces, boxes)

overshoots only through the boxes: a box counts as the largest bound of its own
terms (:meth:`_Search.max_bound`, computed once per sum and cached). The network
bound is the smaller of the product bound ``Π ‖piece‖_F Π bound(box) Π sqrt(|e|)``
(over edges shared by three or more, looping on a box, or summed on one side only)
and, when the network is a forest, the tree bound ``‖root‖ Π ‖node‖_op`` (least
over roots), as in :mod:`diagalg.rank`. With a metric ``M`` the metric is a piece
too: the network is closed and its bound bounds ``|<M, term>|`` directly, far
tighter than ``‖M‖ · ‖term‖``.

Work is incremental. A child state (one more summand chosen) is pushed with a bound
**derived from its parent**: the parent's pieces (their norms cached) and the new
summand's tensors as separate pieces, no contraction. Only when a child is popped are
its pieces merged (one small contraction per group that changed) and its bound
recomputed; if it is then beaten by the best state waiting, it goes back. A piece
whose contraction would exceed :data:`MAX_PIECE` entries stays as separate factors.

Honesty about hopeless searches: after :data:`PROBE_AT` expanded states the search
estimates its remaining work (Knuth's estimator of the size of a pruned search tree,
with random probes, pruning at the K-th best score found so far) and, when that
exceeds the budget, stops at once and says so with the best terms found.

Promise (as :func:`diagalg.rank.top_terms`): when ``proven``, no term scores higher
than the last one listed; terms, tags and diagrams are those of ``expand`` (the
listed terms are rebuilt by replaying their choices through ``inline_diagram``).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Mapping, Sequence, TypeVar, cast

import numpy as np

from .expand import _base, _position_tags, _split_edges
from .model import BoxOp, Diagram, Expr, IndexOp, Node, Term, inline_diagram, resolve_merges
from .numeric.evaluate import evaluate
from .numeric.instance import Instance

if TYPE_CHECKING:
    import sympy


#: a merged piece larger than this (entries) is kept as separate factors
MAX_PIECE = 1 << 16
#: operator norms are computed exactly (SVD) for matrices up to this many entries
MAX_SVD = 1 << 16
#: expanded states before the search estimates its remaining work
PROBE_AT = 200
#: random probes of the work estimate
PROBES = 32


E = TypeVar("E")


def forest_bound(
    nodes: Iterable[int],
    between: Mapping[tuple[int, int], set[E]],
    root_norm: Callable[[int], float],
    op_norm: Callable[[int, int, set[E]], float],
) -> float | None:
    """The forest bound of a network: ``between`` maps each pair of nodes (a < b) to the
    edges joining them. None when the pairs close a cycle. Otherwise, per connected piece,
    the least over roots of ``root_norm(root)`` times, contracting outward, each node's
    ``op_norm(v, parent, edges)`` (its operator norm from the legs joining its parent to
    its other legs), and the product over pieces. Contracting a forest outward never
    grows a norm by more than each node's operator norm, so this bounds the contraction;
    a root whose running product already exceeds the best is dropped early."""
    members_of = list(nodes)
    parent = {i: i for i in members_of}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    adj: dict[int, list[tuple[int, set[E]]]] = {i: [] for i in members_of}
    for (a, b), edges in between.items():
        ra, rb = find(a), find(b)
        if ra == rb:
            return None  # a cycle
        parent[ra] = rb
        adj[a].append((b, edges))
        adj[b].append((a, edges))
    groups: dict[int, list[int]] = {}
    for i in members_of:
        groups.setdefault(find(i), []).append(i)
    total = 1.0
    for members in groups.values():
        best = math.inf
        for root in members:
            norm = root_norm(root)
            seen, stack = {root}, [root]
            while stack and norm < best:
                u = stack.pop()
                for v, edges in adj[u]:
                    if v not in seen:
                        seen.add(v)
                        stack.append(v)
                        norm *= op_norm(v, u, edges)
            best = min(best, norm)
        total *= best
    return total


class Score:
    """How a complete term is scored: its Frobenius norm, or, with a metric array ``M``
    (on the expression's free labels, in order), its contribution ``<M, term>``; a
    scalar term (no free labels) is its own signed value. Ranking is by the absolute
    value; ``scale`` turns a norm bound of a term into a bound of its score
    (``|<M, t>| <= |M| |t|``, Cauchy-Schwarz), so the proven search stays proven."""

    def __init__(self, labels: list[str], metric: np.ndarray | None = None) -> None:
        self.labels = labels
        self.metric = metric
        self.scale = 1.0 if metric is None else float(np.linalg.norm(metric))
        self.signed = metric is not None or not labels

    def of(self, array: np.ndarray) -> tuple[float, float | None]:
        """(what the term is ranked by, its signed value or None)."""
        if self.metric is not None:
            v = complex(np.sum(self.metric * array))
            return abs(v), v.real
        if not self.labels:
            v = complex(np.asarray(array).reshape(()))
            return abs(v), v.real
        return float(np.linalg.norm(array)), None


class _Piece:
    """An exact array with its Frobenius norm and its operator norms (per split of its
    axes into inputs and outputs), computed once: pieces are shared by many states."""

    __slots__ = ("array", "frob", "_op")

    def __init__(self, array: np.ndarray) -> None:
        self.array = array
        self.frob = float(np.linalg.norm(array))
        self._op: dict[tuple[bool, ...], float] = {}

    def op(self, into: tuple[bool, ...]) -> float:
        """The operator norm from the axes marked True to the others (at most ``frob``)."""
        if into not in self._op:
            arr = self.array
            first = [k for k, x in enumerate(into) if x]
            rest = [k for k, x in enumerate(into) if not x]
            if not first or not rest or arr.size > MAX_SVD:
                self._op[into] = self.frob
            else:
                rows = int(np.prod([arr.shape[k] for k in first]))
                m = np.transpose(arr, first + rest).reshape(rows, -1)
                self._op[into] = min(self.frob, float(np.linalg.norm(m, 2)))
        return self._op[into]


Box = tuple[Expr, tuple[str, ...], tuple[int, ...]]  # (the sum, its ports, the edges on them)
Placed = tuple[_Piece, tuple[int, ...]]  # a piece and the edges on its axes
Choice = tuple[int, Term, tuple[str, ...], tuple[int, ...]]  # (term index, term, its split edges, their values)
#: diagalg.rank._Ranker.node_array: (node, fixed edge values, edge dims) -> (sliced array, its axes' edges)
NodeArray = Callable[[Node, Mapping[str, int], Mapping[str, object]], tuple[np.ndarray, list[str]]]


class _State:
    """A partial term. ``choice`` is (term index, fixing values) of the summand chosen
    last, ``parent`` the state it was chosen in: the term is rebuilt by replaying them."""

    __slots__ = ("scale", "pieces", "boxes", "free", "parent", "choice", "tags", "exact")

    def __init__(
        self,
        scale: float,
        pieces: tuple[Placed, ...],
        boxes: tuple[Box, ...],
        free: tuple[int, ...],
        parent: "_State | None",
        choice: tuple[int, tuple[int, ...]] | None,
        tags: tuple[str, ...],
        exact: bool,
    ) -> None:
        self.scale, self.pieces, self.boxes, self.free = scale, pieces, boxes, free
        self.parent, self.choice, self.tags, self.exact = parent, choice, tags, exact


@dataclass(frozen=True)
class SearchStats:
    """Counted work: ``states`` expanded, ``refined`` (a popped child whose merged pieces
    lowered its bound below the best waiting state, pushed back), ``bounds`` computed,
    ``probed`` states visited by the work estimate; ``estimate`` is that estimate of the
    states a proof needs (None when it was not needed)."""

    states: int
    evaluated: int
    refined: int
    bounds: int
    probed: int
    estimate: float | None


class _Search:
    def __init__(
        self, expr: Expr, inst: Instance, over: Mapping[str, int], metric: np.ndarray | None, node_array: NodeArray
    ) -> None:
        self.expr, self.inst, self.over = expr, inst, dict(over)
        self.node_array = node_array  # diagalg.rank._Ranker.node_array: one node's (sliced) array, cached
        self.ids = itertools.count()
        self.sizes: dict[int, int] = {}
        self.free = tuple(self._fresh(expr.free_dims[label]) for label in expr.labels)
        self.open = frozenset() if metric is not None else frozenset(self.free)
        pieces: tuple[Placed, ...] = ((_Piece(np.asarray(metric)), self.free),) if metric is not None else ()
        self.root = _State(1.0, pieces, ((expr, tuple(expr.labels), self.free),), self.free, None, None, (), True)
        self._pieces: dict[tuple, tuple[_Piece | None, tuple[str, ...], float]] = {}
        self._max: dict[int, tuple[float, Expr]] = {}
        self._templates: dict[int, tuple[_Template, Term]] = {}
        self._onehots: dict[tuple[int, int], _Piece] = {}
        self._beta: dict[tuple[int, object], float] = {}
        self._choices: dict[int, tuple[list[Choice], Expr]] = {}  # (sum, choice) -> that summand's bound
        self.bounds = 0

    def _fresh(self, dim: sympy.Expr) -> int:
        i = next(self.ids)
        self.sizes[i] = self.inst.size(dim)
        return i

    # ------------------------------------------------------------------ bounds

    def max_bound(self, e: Expr) -> float:
        """The largest bound over the terms of the sum ``e`` (its ports open), each term
        with its split labels fixed value by value: exact pieces, inner sums bounded in
        turn (recursively, cached per sum)."""
        key = id(e)
        if key not in self._max:
            ports = tuple(self._fresh(e.free_dims[label]) for label in e.labels)
            top = _State(1.0, (), ((e, tuple(e.labels), ports),), ports, None, None, (), True)
            best = 0.0
            for child in self.children(top):
                self.merge(child, frozenset(ports))
                b = self.bound(child, frozenset(ports))
                self._beta[key, child.choice] = b
                best = max(best, b)
            self._max[key] = (best, e)  # keep e alive: its id is the key
        return self._max[key][0]

    def derived(self, parent: _State, parent_bound: float, choice: Choice) -> float:
        """The child's bound from its parent's, without touching an array: both the
        product and the tree bound are proportional to the bound of the box the child
        expanded, so the parent's bound with that box's bound replaced by the chosen
        summand's own bound (its ports open, computed once by :meth:`max_bound`) bounds
        every completion of the child."""
        inner = parent.boxes[0][0]
        whole = self.max_bound(inner)
        if whole == 0.0:
            return 0.0
        return parent_bound / whole * self._beta[id(inner), (choice[0], choice[3])]

    def bound(self, s: _State, open_edges: frozenset[int] | None = None) -> float:
        """An upper bound on the norm (or, with a metric, on |<M, term>|) of every term
        completing ``s``."""
        self.bounds += 1
        if s.scale == 0.0:
            return 0.0
        opened = self.open if open_edges is None else open_edges
        inc: dict[int, int] = {e: 1 for e in s.free if e in opened}
        owners: dict[int, list[int]] = {}
        norms: list[float] = []
        for k, (p, axes) in enumerate(s.pieces):
            norms.append(p.frob)
            for e in axes:
                inc[e] = inc.get(e, 0) + 1
                owners.setdefault(e, []).append(k)
        n = len(s.pieces)
        loop = False
        for k, (inner, _, edges) in enumerate(s.boxes, n):
            norms.append(self.max_bound(inner))
            for e in edges:
                inc[e] = inc.get(e, 0) + 1
                got = owners.setdefault(e, [])
                loop = loop or k in got
                got.append(k)
        product = s.scale * math.prod(norms)
        if product == 0.0:
            return 0.0
        hyper = False
        for e, c in inc.items():
            if c >= 3 or c == 1 or (c == 2 and len(set(owners.get(e, ()))) == 1 and e not in opened):
                product *= math.sqrt(self.sizes[e])
                hyper = True
        if hyper or loop:
            return product
        tree = self._tree(s, owners, norms, n)
        return min(product, s.scale * tree) if tree is not None else product

    def _tree(self, s: _State, owners: Mapping[int, list[int]], norms: Sequence[float], n: int) -> float | None:
        """The forest bound over pieces and boxes (None when the network has a cycle)."""
        count = len(norms)
        between: dict[tuple[int, int], set[int]] = {}
        for e, got in owners.items():
            if len(got) == 2:
                a, b = sorted(got)
                between.setdefault((a, b), set()).add(e)
        toward: dict[tuple[int, int], float] = {}  # (v, u): v's operator norm from its legs to u

        def op(v: int, u: int, edges: set[int]) -> float:
            if (v, u) not in toward:
                if v >= n:
                    toward[v, u] = norms[v]
                else:
                    p, axes = s.pieces[v]
                    toward[v, u] = p.op(tuple(e in edges for e in axes))
            return toward[v, u]

        return forest_bound(range(count), between, lambda root: norms[root], op)

    # ------------------------------------------------------------------ children

    def choices(self, inner: Expr) -> list[Choice]:
        """The ways to expand one occurrence of the sum ``inner``: (term index, term, its
        split edges, their values), in ``expand``'s order; the same for every state."""
        key = id(inner)
        if key not in self._choices:
            out: list[Choice] = []
            for k, t in enumerate(inner.terms):
                split = tuple(_split_edges(t.diagram, self.over))
                for values in itertools.product(*(range(self.over[_base(e)]) for e in split)):
                    out.append((k, t, split, tuple(values)))
            self._choices[key] = (out, inner)
        return self._choices[key][0]

    def make(self, s: _State, choice: Choice) -> _State:
        """The child of ``s`` that expands its first box by ``choice`` (pieces not merged)."""
        inner, ports, edges = s.boxes[0]
        k, t, split, values = choice
        return self._child(s, k, t, inner, dict(zip(ports, edges)), split, values)

    def children(self, s: _State) -> Iterator[_State]:
        """The states with one more summand chosen, in the first box (as ``expand`` and
        :class:`diagalg.rank._Ranker` order them), pieces not yet merged."""
        for choice in self.choices(s.boxes[0][0]):
            yield self.make(s, choice)

    def _template(self, t: Term) -> "_Template":
        key = id(t)
        if key not in self._templates:
            self._templates[key] = (_Template(t, self.over, self.inst), t)
        return self._templates[key][0]

    def _node_piece(self, t: Term, i: int, fixed: Mapping[str, int]) -> tuple[_Piece | None, tuple[str, ...], float]:
        """Node ``i`` of ``t`` sliced at ``fixed``: (piece or None for a number, its axes'
        edges, the number)."""
        node = t.diagram.nodes[i]
        mine = tuple(sorted((e, v) for e, v in fixed.items() if e in node.edges))
        key = (id(t), i, mine)
        if key not in self._pieces:
            arr, axes = self.node_array(node, dict(mine), t.diagram.dims)
            if arr.ndim == 0:
                self._pieces[key] = (None, (), abs(complex(arr)))
            else:
                self._pieces[key] = (_Piece(arr), tuple(axes), 1.0)
        return self._pieces[key]

    def _child(
        self,
        s: _State,
        k: int,
        t: Term,
        inner: Expr,
        port_of: Mapping[str, int],
        split: Sequence[str],
        values: Sequence[int],
    ) -> _State:
        tpl = self._template(t)
        ren: dict[str, int] = {}
        merges: list[tuple[int, int]] = []
        for label, e in tpl.free:
            if e in ren and ren[e] != port_of[label]:
                merges.append((ren[e], port_of[label]))
            else:
                ren[e] = port_of[label]
        for e, size in tpl.fresh:
            i = next(self.ids)
            self.sizes[i] = size
            ren[e] = i
        onehots = dict(tpl.onehots)
        for e, v in zip(split, values):
            onehots[e] = [v] + onehots.get(e, [])
        fixed = {e: vs[0] for e, vs in onehots.items() if len(vs) == 1 and e in tpl.sliceable}
        scale = s.scale * tpl.coeff
        new: list[Placed] = []
        for i in tpl.tensors:
            piece, axes, number = self._node_piece(t, i, fixed)
            if piece is None:
                scale *= number
            else:
                new.append((piece, tuple(ren[e] for e in axes)))
        for e, vs in onehots.items():
            if e in fixed:
                continue
            for v in vs:
                new.append((self._onehot(self.sizes[ren[e]], v), (ren[e],)))
        for e, size in tpl.dangling:  # a summed edge on no node: a factor |e| (1 once fixed)
            if e not in onehots:
                scale *= size
        boxes = tuple((op.inner, op.ports, tuple(ren[e] for e in edges)) for op, edges in tpl.boxes)
        tags = s.tags + _position_tags(inner, k + 1, t) + tuple(f"{_base(e)}={v}" for e, v in zip(split, values))
        child = _State(scale, s.pieces + tuple(new), s.boxes[1:] + boxes, s.free, s, (k, tuple(values)), tags, False)
        if merges:
            # resolve_merges is typed for str edges but only hashes and orders them: int edges work alike
            _rename(child, cast("dict[int, int]", resolve_merges(cast("list[tuple[str, str]]", merges))))
        return child

    def _onehot(self, size: int, v: int) -> _Piece:
        key = (size, v)
        if key not in self._onehots:
            vec = np.zeros(size)
            vec[v] = 1.0
            self._onehots[key] = _Piece(vec)
        return self._onehots[key]

    def merge(self, s: _State, open_edges: frozenset[int] | None = None) -> None:
        """Contract each connected group of ``s``'s pieces into one piece (exact), unless
        the result would exceed MAX_PIECE entries. Edges on boxes and open edges (the
        free labels, or ``open_edges``) stay; the others are summed."""
        if s.exact:
            return
        s.exact = True
        pieces = s.pieces
        parent = list(range(len(pieces)))

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        first: dict[int, int] = {}
        for k, (_, axes) in enumerate(pieces):
            for e in axes:
                if e in first:
                    parent[find(k)] = find(first[e])
                else:
                    first[e] = k
        groups: dict[int, list[int]] = {}
        for k in range(len(pieces)):
            groups.setdefault(find(k), []).append(k)
        keep = set(self.open if open_edges is None else open_edges) | {e for _, _, edges in s.boxes for e in edges}
        out: list[Placed] = []
        for members in groups.values():
            if len(members) == 1:
                out.append(pieces[members[0]])
                continue
            edges = dict.fromkeys(e for k in members for e in pieces[k][1])
            result = tuple(e for e in edges if e in keep)
            if math.prod(self.sizes[e] for e in result) > MAX_PIECE:
                out += [pieces[k] for k in members]
                continue
            local = {e: j for j, e in enumerate(edges)}
            args: list = []
            for k in members:
                args += [pieces[k][0].array, [local[e] for e in pieces[k][1]]]
            arr = np.einsum(*args, [local[e] for e in result], optimize=len(members) > 2)
            if arr.ndim == 0:
                s.scale *= abs(complex(arr))
            else:
                out.append((_Piece(arr), result))
        s.pieces = tuple(out)

    # ------------------------------------------------------------------ terms

    def term(self, s: _State) -> Term:
        """The term ``s`` stands for, rebuilt as ``expand`` builds it."""
        chain: list[tuple[int, tuple[int, ...]]] = []
        x: _State | None = s
        while x is not None and x.choice is not None:
            chain.append(x.choice)
            x = x.parent
        chain.reverse()
        k, values = chain[0]
        t = self.expr.terms[k]
        d = _with_onehots(t.diagram, list(zip(_split_edges(t.diagram, self.over), values)), lambda e: e)
        coeff = t.coeff
        for k, values in chain[1:]:
            at = next(i for i, n in enumerate(d.nodes) if isinstance(n.op, BoxOp))
            box = d.nodes[at]
            assert isinstance(box.op, BoxOp)  # the node just found
            t = box.op.inner.terms[k]
            ports = dict(zip(box.op.ports, box.edges))
            nodes, new_dims, merges = inline_diagram(d, ports, t.diagram)
            ren: dict[str, str] = {}
            for label, e in t.diagram.free:
                ren.setdefault(e, ports[label])
            ren.update(zip([e for e, _ in t.diagram.edge_dims if e not in ren], new_dims))
            rest = tuple(n for i, n in enumerate(d.nodes) if i != at)
            d = Diagram.build(rest + tuple(nodes), {**d.dims, **new_dims}, d.free_map)
            d = _with_onehots(d, list(zip(_split_edges(t.diagram, self.over), values)), ren.__getitem__)
            if merges:
                d = d.rename_edges(resolve_merges(merges))
            coeff = coeff * t.coeff
        return Term(coeff, d, s.tags)

    def evaluate(self, s: _State, score: Score) -> tuple[float, float | None, Term]:
        term = self.term(s)
        size, value = score.of(evaluate(Expr.of([term], self.expr.free_dims), self.inst, list(self.expr.labels)).array)
        return size, value, term

    def dive(self, s: _State) -> _State:
        """Complete ``s`` greedily: the child of the largest bound at every step."""
        while s.boxes:
            self.merge(s)
            here = self.bound(s)
            best = None
            for choice in self.choices(s.boxes[0][0]):
                b = self.derived(s, here, choice)
                if best is None or b > best[0]:
                    best = (b, choice)
            assert best is not None
            s = self.make(s, best[1])
        self.merge(s)
        return s

    def estimate(self, floor: float, seed: int = 0, probes: int = PROBES) -> tuple[float, int]:
        """Knuth's estimate of the number of states the search would make with a bound
        reaching ``floor`` (when ``floor`` is the K-th best score, a proof must pop every
        one of them), from ``probes`` random descents; and the states the probes made.
        A descent counts the children whose derived bound reaches ``floor``, moves to
        one at random (stopping where its exact bound falls below), and multiplies the
        branching factors it met; their mean is unbiased for the size of that tree."""
        rng = np.random.default_rng(seed)
        visited = 0
        total = 0.0
        for _ in range(probes):
            pick, here, weight, count = self.root, math.inf, 1.0, 0.0
            while pick.boxes:
                self.merge(pick)
                here = min(here, self.bound(pick))
                visited += 1
                if here < floor:
                    break
                kids = [c for c in self.choices(pick.boxes[0][0]) if self.derived(pick, here, c) >= floor]
                if not kids:
                    break
                weight *= len(kids)
                count += weight
                pick = self.make(pick, kids[int(rng.integers(len(kids)))])
            total += count
        return total / probes, visited


class _Template:
    """What a summand contributes to every child that chooses it, read once: its free
    edges, its other edges (with sizes), the edges a one-hot may slice (summed, on no
    box), its own one-hots, its tensors, boxes, and summed edges on no node."""

    def __init__(self, t: Term, over: Mapping[str, int], inst: Instance) -> None:
        d = t.diagram
        self.free = d.free
        free_edges = set(d.free_map.values())
        self.fresh = [(e, inst.size(dim)) for e, dim in d.edge_dims if e not in free_edges]
        on_box = {e for n in d.nodes if isinstance(n.op, BoxOp) for e in n.edges}
        self.sliceable = {e for e, _ in d.edge_dims if e not in free_edges and e not in on_box}
        self.onehots: dict[str, list[int]] = {}
        for n in d.nodes:
            if isinstance(n.op, IndexOp):
                self.onehots.setdefault(n.edges[0], []).append(n.op.value)
        self.tensors = [i for i, n in enumerate(d.nodes) if not isinstance(n.op, (BoxOp, IndexOp))]
        self.boxes = [(n.op, n.edges) for n in d.nodes if isinstance(n.op, BoxOp)]
        touched = {e for n in d.nodes for e in n.edges}
        self.dangling = [(e, size) for e, size in self.fresh if e not in touched]
        self.coeff = abs(complex(inst.scalar(t.coeff)))


def _with_onehots(d: Diagram, fixings: Sequence[tuple[str, int]], edge: Callable[[str], str]) -> Diagram:
    if not fixings:
        return d
    nodes = d.nodes + tuple(Node(IndexOp(v, d.dims[edge(e)]), (edge(e),)) for e, v in fixings)
    return Diagram.build(nodes, d.dims, d.free_map)


def _rename(s: _State, m: Mapping[int, int]) -> None:
    """Apply an edge merge to a state: a piece that now has an axis twice keeps the diagonal."""
    pieces: list[Placed] = []
    for p, axes in s.pieces:
        new = tuple(m.get(e, e) for e in axes)
        if len(set(new)) < len(new):
            uniq = tuple(dict.fromkeys(new))
            local = {e: j for j, e in enumerate(uniq)}
            p = _Piece(np.einsum(p.array, [local[e] for e in new], [local[e] for e in uniq]))
            new = uniq
        pieces.append((p, new))
    s.pieces = tuple(pieces)
    s.boxes = tuple((inner, ports, tuple(m.get(e, e) for e in edges)) for inner, ports, edges in s.boxes)
    s.free = tuple(m.get(e, e) for e in s.free)
