"""Hypothesis strategies: random well-typed diagrams with sites for every rewrite rule.

A *case* is ``.diag`` expression text over the fixed declaration block
:data:`DECLS` (parsed once into :data:`PROG`), plus an optional random renaming
of the top-level diagrams' edges (applied through the model API, so edge names
stop matching label names and may collide with edge names inside boxes).

The text is built from *motifs* wired together at random:

* matrix chains and rings (traces) over dims ``n, m, r`` (``r <= n``), trees
  (a three-leg tensor), vectors, complex matrices;
* copy tensors of arity 1-4, with self-loops (``delta[i, i, j]``), closed loops
  (``delta[i, i]``) and free identities;
* *pairs* of occurrences of one structured tensor (isometries real, complex and
  multi-leg; unitaries real and complex; invertible matrices, a multi-leg
  invertible ``Y`` and a posdef ``G``) under random conj / inv levels, joined on
  their output legs, input legs, a part of them, crossed legs or all legs, in
  either order, sometimes with a third tensor on a joined edge (a hyperedge);
* single structured occurrences (``inv(inv(X))``, ``conj(inv(Xc))``, ...);
* parenthesised sums with coefficients (nested up to depth 2), whose summands are
  random networks with the box's legs free.

Leftover legs are contracted in pairs, capped with vectors or ones, merged into
hyperedges or left free (at most :data:`MAX_FREE` at the top level). Label names
are a random permutation of a pool (random relabelling), and the factors of each
product are shuffled.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import hypothesis.strategies as st

import diagalg
from diagalg.model import BoxOp, BubbleOp, DerivOp, Diagram, Expr, Term

DECLS = """\
dim n, m
dim r <= n
dim p, q
dim big > p * q

tensor M_nn[i: n, j: n]
tensor M_nm[i: n, j: m]
tensor M_nr[i: n, j: r]
tensor M_mn[i: m, j: n]
tensor M_mm[i: m, j: m]
tensor M_mr[i: m, j: r]
tensor M_rn[i: r, j: n]
tensor M_rm[i: r, j: m]
tensor M_rr[i: r, j: r]
tensor Zc_nr[i: n, j: r] complex
tensor Zc_rn[i: r, j: n] complex
tensor S3[i: n, j: m, k: r]

tensor vn[i: n]
tensor vm[i: m]
tensor vr[i: r]
tensor vp[i: p]
tensor vq[i: q]
tensor vbig[i: big]

tensor V[a: n, b: r] isometry(b -> a)
tensor W[a: n, b: r] isometry(b -> a), complex
tensor T[a: big, b: p, c: q] isometry(b, c -> a), complex
tensor K[a: n, b: m, c: r] isometry(c -> a, b)
tensor U[a: n, b: n] unitary(b -> a)
tensor Uc[a: r, b: r] unitary, complex
tensor X[i: n, j: n] invertible
tensor Xc[i: m, j: m] invertible, complex
tensor Y[i: n, j: m, k: n, l: m] invertible(k, l -> i, j)
tensor G[i: r, j: r] posdef

let PV[a, c] = V[a, b] conj(V)[c, b]
let PW[a, c] = W[a, b] conj(W)[c, b]
let XX[i, k] = X[i, j] inv(X)[j, k]
"""

PROG = diagalg.parse(DECLS)
ENV = PROG.env
SUBS = PROG.env.concrete_subs()

CHAIN_DIMS = ("n", "m", "r")
ALL_DIMS = ("n", "m", "r", "p", "q", "big")
VECTOR = {"n": "vn", "m": "vm", "r": "vr", "p": "vp", "q": "vq", "big": "vbig"}
MAX_FREE = 3
MAX_DEPTH = 2

_RESERVED = set("nmrpq")
LABEL_POOL = tuple(
    [c for c in "abcdefghijklostuvwxyz" if c not in _RESERVED]
    + [c + "2" for c in "abcdefghijkl"]
    + [c + "'" for c in "ijkl"]
    + ["e" + str(k) for k in range(10, 100)]
)

COEFFS = ("1", "-1", "2", "-2", "3", "1/2", "-1/3", "n", "-r")


@dataclass(frozen=True)
class Structured:
    """What the generator needs to know about a structured tensor."""

    name: str
    legs: tuple[str, ...]
    dims: tuple[str, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    complex_: bool
    kind: str  # "isometry", "unitary", "invertible", "posdef"

    def ports(self, inv: int) -> tuple[str, ...]:
        return self.inputs + self.outputs if inv % 2 else self.legs

    def dim(self, leg: str) -> str:
        return self.dims[self.legs.index(leg)]

    @property
    def invertible(self) -> bool:
        return self.kind in ("unitary", "invertible", "posdef")


STRUCTURED = {
    s.name: s
    for s in (
        Structured("V", ("a", "b"), ("n", "r"), ("b",), ("a",), False, "isometry"),
        Structured("W", ("a", "b"), ("n", "r"), ("b",), ("a",), True, "isometry"),
        Structured("T", ("a", "b", "c"), ("big", "p", "q"), ("b", "c"), ("a",), True, "isometry"),
        Structured("K", ("a", "b", "c"), ("n", "m", "r"), ("c",), ("a", "b"), False, "isometry"),
        Structured("U", ("a", "b"), ("n", "n"), ("b",), ("a",), False, "unitary"),
        Structured("Uc", ("a", "b"), ("r", "r"), ("b",), ("a",), True, "unitary"),
        Structured("X", ("i", "j"), ("n", "n"), ("j",), ("i",), False, "invertible"),
        Structured("Xc", ("i", "j"), ("m", "m"), ("j",), ("i",), True, "invertible"),
        Structured("Y", ("i", "j", "k", "l"), ("n", "m", "n", "m"), ("k", "l"), ("i", "j"), False, "invertible"),
        Structured("G", ("i", "j"), ("r", "r"), ("j",), ("i",), False, "posdef"),
    )
}


def _check_decls() -> None:
    """The table above must agree with the parsed declarations."""
    for s in STRUCTURED.values():
        d = PROG.tensors[s.name]
        assert d.legs == s.legs and d.inputs == s.inputs and d.outputs == s.outputs, s.name
        assert d.is_complex == s.complex_ and d.structure == s.kind, s.name
        assert tuple(str(x) for x in d.dims) == s.dims, s.name


_check_decls()


# --------------------------------------------------------------------------- builder


@dataclass
class Factor:
    head: str
    legs: list[int]
    delta_dim: str | None = None  # copy tensors: annotate the first leg


@dataclass
class Box:
    """A parenthesised sum (``head`` empty) or an elementwise bubble (``tanh``...)."""

    summands: list[tuple[str, "Net"]]
    legs: list[int]
    head: str = ""


@dataclass
class Keep:
    """``keep[kept...](net)``: kept labels stay free although used inside."""

    net: "Net"
    kept: list[int]


@dataclass
class Net:
    factors: list = field(default_factory=list)


class Builder:
    """Label variables (with dims, merged by union-find) and the factors using them."""

    def __init__(self) -> None:
        self.dim: dict[int, str] = {}
        self.parent: dict[int, int] = {}
        self.uses: dict[int, int] = {}
        self.protected: set[int] = set()
        self.groups: dict[int, set[int]] = {}  # label -> ids of the keeps exposing it
        self.n_groups = 0

    def same_group(self, a: int, b: int) -> bool:
        return bool(self.groups.get(self.find(a), set()) & self.groups.get(self.find(b), set()))

    def new(self, dim: str) -> int:
        v = len(self.dim)
        self.dim[v] = dim
        self.parent[v] = v
        self.uses[v] = 0
        return v

    def find(self, v: int) -> int:
        while self.parent[v] != v:
            v = self.parent[v]
        return v

    def merge(self, a: int, b: int) -> int:
        ra, rb = self.find(a), self.find(b)
        assert self.dim[ra] == self.dim[rb]
        if ra != rb:
            self.parent[rb] = ra
            self.uses[ra] += self.uses[rb]
            if rb in self.protected:
                self.protected.add(ra)
            if rb in self.groups:
                self.groups.setdefault(ra, set()).update(self.groups[rb])
        return ra

    def factor(self, net: Net, head: str, legs: list[int], delta_dim: str | None = None, count: bool = True) -> Factor:
        """Add a factor. ``count=False`` for a use of a box leg inside a summand
        (``uses`` counts the uses at the level where a label lives)."""
        f = Factor(head, legs, delta_dim)
        net.factors.append(f)
        if count:
            for v in legs:
                self.uses[self.find(v)] += 1
        return f

    def used(self, v: int) -> int:
        return self.uses[self.find(v)]


# --------------------------------------------------------------------------- motifs


def _op_text(name: str, conj: bool, inv: int) -> str:
    s = name
    for _ in range(inv):
        s = f"inv({s})"
    return f"conj({s})" if conj else s


@st.composite
def _chain(draw, b: Builder, net: Net) -> list[int]:
    length = draw(st.integers(1, 3))
    dims = [draw(st.sampled_from(CHAIN_DIMS)) for _ in range(length + 1)]
    vs = [b.new(d) for d in dims]
    for k in range(length):
        d0, d1 = dims[k], dims[k + 1]
        if (d0, d1) in (("n", "r"), ("r", "n")) and draw(st.booleans()):
            name = f"Zc_{d0}{d1}"
            head = f"conj({name})" if draw(st.booleans()) else name
        else:
            head = f"M_{d0}{d1}"
        b.factor(net, head, [vs[k], vs[k + 1]])
    if dims[0] == dims[-1] and draw(st.integers(0, 3)) == 0:  # a ring: trace
        b.merge(vs[0], vs[-1])
        return []
    return [vs[0], vs[-1]]


@st.composite
def _tree(draw, b: Builder, net: Net) -> list[int]:
    vs = [b.new("n"), b.new("m"), b.new("r")]
    b.factor(net, "S3", vs)
    out = []
    for v in vs:
        if draw(st.integers(0, 2)) == 0:  # grow a branch
            d = draw(st.sampled_from(CHAIN_DIMS))
            w = b.new(d)
            b.factor(net, f"M_{b.dim[v]}{d}", [v, w])
            out.append(w)
        else:
            out.append(v)
    return out


@st.composite
def _vector(draw, b: Builder, net: Net) -> list[int]:
    d = draw(st.sampled_from(ALL_DIMS))
    v = b.new(d)
    b.factor(net, VECTOR[d], [v])
    return [v]


@st.composite
def _copy(draw, b: Builder, net: Net) -> list[int]:
    d = draw(st.sampled_from(ALL_DIMS))
    shape = draw(st.sampled_from(["plain", "plain", "selfloop", "closed", "identity"]))
    if shape == "closed":  # delta[i, i]
        v = b.new(d)
        b.factor(net, "delta", [v, v], d)
        return []
    if shape == "identity":  # delta[i, j], both legs left open (often free)
        v, w = b.new(d), b.new(d)
        b.factor(net, "delta", [v, w], d)
        return [v, w]
    arity = draw(st.sampled_from([1, 2, 3, 3, 4, 4])) if shape == "plain" else draw(st.integers(2, 4))
    legs = [b.new(d) for _ in range(arity)]
    if shape == "selfloop":  # delta[i, i, j, ...]
        k = draw(st.integers(1, arity - 1))
        legs[k] = legs[0]
        loop = legs[0]
        legs = draw(st.permutations(legs))
        b.factor(net, "delta", list(legs), d)
        return [v for v in dict.fromkeys(legs) if v != loop]
    b.factor(net, "delta", legs, d)
    out = []
    for v in legs:  # hang tensors on some legs (a diagonal matrix, a Hadamard product...)
        how = draw(st.sampled_from(["open", "open", "vector", "matrix"]))
        if how == "vector":
            b.factor(net, VECTOR[d], [v])
        elif how == "matrix" and d in CHAIN_DIMS:
            e = draw(st.sampled_from(CHAIN_DIMS))
            w = b.new(e)
            b.factor(net, f"M_{d}{e}", [v, w])
            out.append(w)
        else:
            out.append(v)
    return out


@st.composite
def _pair(draw, b: Builder, net: Net) -> list[int]:
    """Two occurrences of one structured tensor, joined by leg name (or crossed)."""
    s = STRUCTURED[draw(st.sampled_from(sorted(STRUCTURED)))]
    if s.kind == "unitary" and draw(st.booleans()):
        inv1 = inv2 = 0  # U U† and U† U
    elif s.invertible:
        inv1 = draw(st.sampled_from([0, 0, 1, 1, 2]))
        inv2 = draw(st.sampled_from([1 - min(inv1, 1), 1 - min(inv1, 1), 0, 1, 2]))
    else:
        inv1 = inv2 = 0
    if s.complex_:
        # isometry pairs fire with opposite conj, inverse pairs with equal conj
        conj1 = draw(st.booleans())
        opposite = {"isometry": 3, "unitary": 2}.get(s.kind, 1)
        conj2 = draw(st.sampled_from([not conj1] * opposite + [conj1] * (4 - opposite)))
    else:
        conj1, conj2 = draw(st.booleans()), draw(st.booleans())
    modes = ["outputs", "outputs", "inputs", "inputs", "all"]
    if len(s.outputs) > 1 or len(s.inputs) > 1:
        modes.append("partial")
    crossable = [(x, y) for x in s.legs for y in s.legs if x < y and s.dim(x) == s.dim(y)]
    if crossable:
        modes += ["cross"] * (2 if s.invertible else 1)
    mode = draw(st.sampled_from(modes))
    left = {leg: b.new(s.dim(leg)) for leg in s.legs}
    right = {leg: b.new(s.dim(leg)) for leg in s.legs}
    joined: list[int] = []
    if mode in ("outputs", "inputs", "all"):
        legs = {"outputs": s.outputs, "inputs": s.inputs, "all": s.legs}[mode]
        for leg in legs:
            right[leg] = left[leg]
            joined.append(left[leg])
    elif mode == "partial":
        group = draw(st.sampled_from([g for g in (s.outputs, s.inputs) if len(g) > 1]))
        subset = draw(st.lists(st.sampled_from(group), min_size=1, max_size=len(group) - 1, unique=True))
        for leg in subset:
            right[leg] = left[leg]
            joined.append(left[leg])
    else:  # cross: leg x of one joined to leg y of the other, and vice versa maybe
        x, y = draw(st.sampled_from(crossable))
        right[y] = left[x]
        joined.append(left[x])
        if draw(st.booleans()):
            right[x] = left[y]
            joined.append(left[y])
    ops = [(s, conj1, inv1, left), (s, conj2, inv2, right)]
    if draw(st.booleans()):
        ops.reverse()
    for s_, conj, inv, legs in ops:
        b.factor(net, _op_text(s_.name, conj, inv), [legs[p] for p in s_.ports(inv)])
    if joined and draw(st.integers(0, 4)) == 0:
        # a third tensor on a joined edge: a hyperedge, the pair must not fire
        v = draw(st.sampled_from(joined))
        d = b.dim[v]
        if draw(st.booleans()):
            b.factor(net, VECTOR[d], [v])
        else:
            w = b.new(d)
            b.factor(net, "delta", [v, w], d)
            joined_open = [w]
            b.protected.update(joined)
            return _open_of(b, left, right, joined) + joined_open
    b.protected.update(joined)
    return _open_of(b, left, right, joined)


def _open_of(b: Builder, left: dict, right: dict, joined: list[int]) -> list[int]:
    out = []
    for v in list(left.values()) + list(right.values()):
        if v not in joined and v not in out:
            out.append(v)
    return out


@st.composite
def _single(draw, b: Builder, net: Net) -> list[int]:
    """One structured occurrence: inv(inv(X)), conj(inv(Xc)), inv(U), ..."""
    s = STRUCTURED[draw(st.sampled_from(sorted(STRUCTURED)))]
    inv = draw(st.integers(0, 3)) if s.invertible else 0
    conj = draw(st.booleans())
    legs = {leg: b.new(s.dim(leg)) for leg in s.legs}
    b.factor(net, _op_text(s.name, conj, inv), [legs[p] for p in s.ports(inv)])
    return list(legs.values())


LETS = {"PV": ("n", "n"), "PW": ("n", "n"), "XX": ("n", "n")}


@st.composite
def _let(draw, b: Builder, net: Net) -> list[int]:
    """A folded let (a named box; rules must leave it alone)."""
    name = draw(st.sampled_from(sorted(LETS)))
    legs = [b.new(d) for d in LETS[name]]
    b.factor(net, name, legs)
    return legs


@st.composite
def _keep(draw, b: Builder, net: Net, depth: int) -> list[int]:
    """``keep[k](...)``: a contracted label of a random network stays free too (it
    becomes an edge with ports and a label; after wiring often a hyperedge)."""
    sub = Net()
    draw(_network(b, sub, required=[], max_free=draw(st.integers(0, 1)), depth=depth + 1))
    inner = [v for f in _all_factors(sub) for v in f.legs]
    free = sorted({b.find(v) for v in inner if b.used(v) == 1})
    # only labels of this level: those inside nested scopes are not visible to keep
    direct = [v for f in sub.factors if isinstance(f, Factor) for v in f.legs]
    summed = sorted({b.find(v) for v in direct if b.used(v) >= 2})
    if not summed:
        net.factors.extend(sub.factors)
        return free
    protected = [v for v in summed if v in b.protected]
    pick = protected if protected and draw(st.booleans()) else summed
    kept = draw(st.lists(st.sampled_from(pick), min_size=1, max_size=2, unique=True))
    for v in kept:
        b.uses[v] = 1  # one use at this level: the keep
        b.protected.add(v)  # no more hyperedges onto it from inside
    # the keep's legs must not be joined to each other outside: that label would
    # be listed (free) by the keep while counted as contracted here
    b.n_groups += 1
    for v in free + kept:
        b.groups.setdefault(b.find(v), set()).add(b.n_groups)
    net.factors.append(Keep(sub, kept))
    return free + kept


@st.composite
def _box(draw, b: Builder, net: Net, depth: int) -> list[int]:
    """A parenthesised sum (or a tanh / sigmoid bubble): 1-3 summands with
    coefficients, sharing the box legs."""
    head = draw(st.sampled_from(["", "", "", "tanh", "sigmoid"]))
    nports = draw(st.integers(0, 2))
    ports = [b.new(draw(st.sampled_from(CHAIN_DIMS))) for _ in range(nports)]
    summands = []
    for _ in range(draw(st.integers(1, 3))):
        coeff = draw(st.sampled_from(COEFFS))
        if not ports and draw(st.integers(0, 3)) == 0:
            summands.append((coeff, Net()))  # a pure number
            continue
        sub = Net()
        draw(_network(b, sub, required=ports, max_free=0, depth=depth + 1))
        summands.append((coeff, sub))
    box = Box(summands, ports, head)
    if head:
        # a bubble is a scope: two of its legs joined outside would be one label
        # used twice inside, summed there, and not a leg of the bubble at all
        b.n_groups += 1
        for v in ports:
            b.groups.setdefault(b.find(v), set()).add(b.n_groups)
    net.factors.append(box)
    for v in ports:
        b.uses[b.find(v)] += 1
    return list(ports)


MOTIFS = (
    "chain",
    "tree",
    "vector",
    "copy",
    "copy",
    "pair",
    "pair",
    "pair",
    "pair",
    "single",
    "box",
    "box",
    "box",
    "keep",
    "let",
)


@st.composite
def _motif(draw, b: Builder, net: Net, depth: int) -> list[int]:
    kinds = [k for k in MOTIFS if k not in ("box", "keep") or depth < MAX_DEPTH]
    kind = draw(st.sampled_from(kinds))
    if kind == "box":
        return draw(_box(b, net, depth))
    if kind == "keep":
        return draw(_keep(b, net, depth))
    return draw(
        {
            "chain": _chain,
            "tree": _tree,
            "vector": _vector,
            "copy": _copy,
            "pair": _pair,
            "single": _single,
            "let": _let,
        }[kind](b, net)
    )


def _cap(b: Builder, net: Net, v: int, ones: bool, count: bool = True) -> None:
    d = b.dim[b.find(v)]
    if ones:
        b.factor(net, "delta", [v], d, count=count)
    else:
        b.factor(net, VECTOR[d], [v], count=count)


@st.composite
def _network(draw, b: Builder, net: Net, required: list[int], max_free: int, depth: int) -> None:
    """Motifs wired so that exactly ``required`` (each used once here) plus at most
    ``max_free`` other labels are free."""
    nmotifs = draw(st.integers(1, 4 if depth == 0 else 2))
    pool: list[int] = []
    for _ in range(nmotifs):
        pool.extend(draw(_motif(b, net, depth)))
    pool = list(draw(st.permutations(pool)))
    for r in required:
        same = [v for v in pool if b.dim[b.find(v)] == b.dim[r]]
        if same and draw(st.integers(0, 3)) > 0:
            v = same[0]
            pool.remove(v)
            b.uses[b.find(v)] -= 1  # the leg becomes the box leg's use in this summand
            b.merge(r, v)
        else:
            _cap(b, net, r, ones=draw(st.integers(0, 3)) == 0, count=False)
    outer = {b.find(r) for r in required}
    free = 0
    while pool:
        v = pool.pop(0)
        d = b.dim[b.find(v)]
        choice = draw(st.sampled_from(["contract", "contract", "contract", "free", "cap", "hyper"]))
        if choice == "contract":
            partners = [w for w in pool if b.dim[b.find(w)] == d and not b.same_group(v, w)]
            if partners:
                w = draw(st.sampled_from(partners))
                pool.remove(w)
                b.merge(v, w)
                continue
        if choice == "free" and free < max_free:
            free += 1
            continue
        if choice == "hyper":
            # join an already contracted (unprotected) label of this net: a hyperedge
            cands = sorted(
                {
                    b.find(w)
                    for f in net.factors
                    if isinstance(f, Factor)
                    for w in f.legs
                    if b.dim[b.find(w)] == d
                    and b.used(w) >= 2
                    and b.find(w) not in b.protected
                    and b.find(w) != b.find(v)
                    and b.find(w) not in outer
                    and not b.same_group(v, w)
                }
            )
            if cands:
                b.merge(draw(st.sampled_from(cands)), v)
                continue
        _cap(b, net, v, ones=draw(st.integers(0, 4)) == 0)


# --------------------------------------------------------------------------- rendering


class _Namer:
    """Label names for classes of variables, from a shuffled pool, in order of first use."""

    def __init__(self, b: Builder, names: list[str], given: dict[int, str] | None = None) -> None:
        self.b = b
        self.given: dict[int, str] = dict(given or {})
        taken = set(self.given.values())
        self.names = iter([x for x in names if x not in taken])

    def __call__(self, v: int) -> str:
        r = self.b.find(v)
        if r not in self.given:
            self.given[r] = next(self.names)
        return self.given[r]


def _render_net(net: Net, namer: _Namer, order, perturb=None) -> str:
    parts = []
    for k in order(len(net.factors)):
        f = net.factors[k]
        if isinstance(f, Factor):
            head, legs = perturb(f) if perturb is not None else (f.head, f.legs)
            labels = [namer(v) for v in legs]
            if f.delta_dim is not None:
                labels[0] = f"{labels[0]}: {f.delta_dim}"
            parts.append(f"{head}[{', '.join(labels)}]")
        elif isinstance(f, Keep):
            kept = ", ".join(namer(v) for v in f.kept)
            parts.append(f"keep[{kept}]({_render_net(f.net, namer, order, perturb)})")
        else:
            summands = []
            for coeff, sub in f.summands:
                body = _render_net(sub, namer, order, perturb)
                summands.append(f"{coeff} * {body}" if body else coeff)
            parts.append(f.head + "(" + " + ".join(summands) + ")")
    return " ".join(parts)


def _perturbation(b: Builder, target: Factor, kind: str):
    """A change of one factor for an echoed summand: none, toggling conj, swapping
    two legs of one dimension, or inverting (when declared invertible)."""

    def perturb(f: Factor):
        if f is not target or kind == "none":
            return f.head, f.legs
        base = f.head.replace("conj(", "").replace("inv(", "").replace(")", "")
        if kind == "conj" and base in PROG.tensors:
            if f.head.startswith("conj("):
                return f.head[5:-1], f.legs
            return f"conj({f.head})", f.legs
        if kind == "swap" and len(f.legs) >= 2 and b.dim[b.find(f.legs[0])] == b.dim[b.find(f.legs[1])]:
            return f.head, [f.legs[1], f.legs[0]] + f.legs[2:]
        if kind == "inv" and len(f.legs) == 2:
            s = STRUCTURED.get(base)
            if s is not None and s.invertible and s.dims[0] == s.dims[1]:
                return f"inv({f.head})", [f.legs[1], f.legs[0]]  # same dims, legs swapped back
        return f.head, f.legs

    return perturb


@dataclass(frozen=True)
class Case:
    """A generated expression: its text, and an edge renaming for top-level diagrams."""

    text: str
    edge_names: tuple[str, ...]

    def expr(self) -> Expr:
        e = PROG.expr(self.text)
        if not self.edge_names:
            return e
        return Expr.of([Term(t.coeff, rename_edges(t.diagram, self.edge_names), t.tags) for t in e.terms], e.free_dims)


def rename_edges(d: Diagram, names: tuple[str, ...]) -> Diagram:
    """Rename every edge of ``d`` injectively, taking new names from ``names`` (cycled
    with a suffix if there are too few)."""
    edges = [e for e, _ in d.edge_dims]
    targets = [names[k % len(names)] + ("" if k < len(names) else f"~r{k}") for k in range(len(edges))]
    return d.rename_edges(dict(zip(edges, targets)))


@st.composite
def cases(draw) -> Case:
    """A random well-typed expression (see the module docstring)."""
    b = Builder()
    net = Net()
    draw(_network(b, net, required=[], max_free=MAX_FREE, depth=0))
    free = sorted({b.find(v) for f in _all_factors(net) for v in f.legs if b.used(v) == 1})
    # sometimes a second top-level summand with the same free labels
    second = None
    if draw(st.integers(0, 3)) == 0:
        second = Net()
        draw(_network(b, second, required=free, max_free=0, depth=1))
    rnd = random.Random(draw(st.integers(0, 2**32 - 1)))
    names = list(LABEL_POOL)
    rnd.shuffle(names)  # random relabelling
    namer = _Namer(b, names)
    shuffle = draw(st.booleans())

    def order(k: int):
        idx = list(range(k))
        if shuffle:
            rnd.shuffle(idx)
        return idx

    coeff = draw(st.sampled_from(COEFFS))
    text = f"{coeff} * {_render_net(net, namer, order)}"
    if second is not None:
        text += f" + {draw(st.sampled_from(COEFFS))} * {_render_net(second, namer, order)}"
    elif draw(st.integers(0, 2)) == 0:
        # an echo: the same product again, relabelled and reordered, maybe with one
        # factor perturbed -- collect must combine exactly the equal terms
        factors = list(_all_factors(net))
        target = factors[draw(st.integers(0, len(factors) - 1))] if factors else None
        kind = draw(st.sampled_from(["none", "none", "conj", "swap", "inv"]))
        echo = _Namer(b, names[::-1], {b.find(v): namer(v) for v in free})
        body = _render_net(net, echo, order, _perturbation(b, target, kind))
        text += f" + {draw(st.sampled_from(COEFFS))} * {body}"
    edge_names: tuple[str, ...] = ()
    if draw(st.booleans()):
        edge_names = tuple(rnd.sample(LABEL_POOL, 30))
    return Case(text, edge_names)


def _all_factors(net: Net):
    for f in net.factors:
        if isinstance(f, Factor):
            yield f
        elif isinstance(f, Keep):
            yield from _all_factors(f.net)
        else:
            for _, sub in f.summands:
                yield from _all_factors(sub)


def shuffled(d: Diagram, seed: int) -> Diagram:
    """``d`` with every edge renamed (fresh names) and its nodes in another order: an
    isomorphic copy, for canonical-form invariance tests."""
    from diagalg.model import Node

    rng = random.Random(seed)
    names = [e for e, _ in d.edge_dims]
    new = [f"z{t}~s" for t in range(len(names))]
    rng.shuffle(new)
    ren = dict(zip(names, new))
    nodes = list(d.nodes)
    rng.shuffle(nodes)
    return Diagram.build(
        [Node(nd.op, tuple(ren[e] for e in nd.edges)) for nd in nodes],
        {ren[e]: dm for e, dm in d.edge_dims},
        {label: ren[e] for label, e in d.free},
    )


def nx_graph(d: Diagram):
    """An encoding of ``d`` independent of diagalg.canonical, for cross-checks with
    networkx isomorphism: node, port, edge and label vertices; a tensor node coloured by
    (name, conj, inv parity), its ports by leg, legs of one symmetric or antisymmetric
    group alike, all ports of a copy tensor alike; edges by dimension."""
    import networkx as nx

    from diagalg.model import CopyTensor

    g = nx.Graph()
    for e, dm in d.edge_dims:
        g.add_node(("E", e), c=("edge", str(dm)))
    for label, e in d.free:
        g.add_node(("L", label), c=("label", label))
        g.add_edge(("L", label), ("E", e))
    for t, nd in enumerate(d.nodes):
        op = nd.op
        if isinstance(op, CopyTensor):
            colour, cls = ("copy", str(op.dim)), {p: "*" for p in op.ports}
        else:
            colour, cls = (op.decl.name, op.conj, op.inv % 2), {p: p for p in op.ports}
            for grp in op.decl.symmetric + op.decl.antisymmetric:
                for leg in grp:
                    cls[leg] = grp[0]
        g.add_node(("N", t), c=("node", colour))
        for p, e in nd.port_edges():
            g.add_node(("P", t, p), c=("port", colour, cls[p]))
            g.add_edge(("N", t), ("P", t, p))
            g.add_edge(("P", t, p), ("E", e))
    return g


def diagrams_of(expr: Expr, lets: bool = True):
    """(diagram, free dims) of every term of ``expr`` and, recursively, of the sums
    inside its boxes, bubbles and derivatives (each is a diagram the engine rewrites)
    and, with ``lets``, inside folded let definitions (named boxes, which the engine
    leaves alone but whose bodies are diagrams all the same)."""
    stack = [expr]
    while stack:
        e = stack.pop()
        for t in e.terms:
            yield t.diagram, e.free_dims
            for n in t.diagram.nodes:
                op = n.op
                if isinstance(op, (BubbleOp, DerivOp)) or (isinstance(op, BoxOp) and (lets or op.name is None)):
                    stack.append(op.inner)
