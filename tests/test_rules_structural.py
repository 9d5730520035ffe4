"""Property tests for the structural rules ``shift``, ``symmetry`` and ``reshape``.

The oracle is the numeric checker (:func:`diagalg.numeric.check.compare`), which
contracts diagrams directly and never uses a rewrite rule.

Random diagrams are built on the model level (:func:`diagrams`) so that every
wiring the hypergraph allows can occur: each case plants motifs on which the
rule under test should fire (chains and rings of shifts with random offsets;
chains of projector / Hermitian occurrences under random conj, inv and
orientation, some only partly joined; groups of reshape nodes meeting on their
wholes or on all their parts, with equal, permuted or different part
dimensions), then wires every open port at random: pairs, hyperedges, free
labels (also on planted edges), vectors, all-ones legs, or extra ports on a
planted edge. Node order is shuffled.

For every case, every site ``match`` finds, rewritten alone, and the batch of
``disjoint_sites`` applied together by ``apply_edits`` must keep the numeric
value; so must ``simplify`` with the rule, ``delta`` and ``collect``. Each test
counts the sites that fired, by kind, and fails if some kind fired too rarely
(so it cannot pass vacuously). Negative tests check that the guards hold
(opposite-sign shifts, non-projectors, mixed conjugates, partial joins,
different or permuted part dimensions never fire) and that each guard is
needed: the rewrite it forbids is numerically wrong.
"""

from __future__ import annotations

import collections
import random
from dataclasses import dataclass

import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import diagalg
import diagalg.rules.reshape  # noqa: F401  (registration)
import diagalg.rules.shift  # noqa: F401
import diagalg.rules.symmetry  # noqa: F401
from diagalg import canonical
from diagalg.engine import simplify
from diagalg.model import Diagram, Expr, Node, ReshapeOp, ShiftOp, Term, tensor_op
from diagalg.numeric.check import compare
from diagalg.rules.base import Edit, Site, apply_edits, disjoint_sites, get_rule
from diagalg.rules.reshape import ReshapeRule
from diagalg.rules.shift import ShiftRule
from diagalg.rules.symmetry import SymmetryRule

DECLS = """\
dim n, m
dim seq = 6

tensor A[i: n, j: n]
tensor B[i: n, j: m]
tensor Am[i: m, j: m]
tensor vn[i: n]
tensor vm[i: m]
tensor v3[i: 3]
tensor vseq[i: seq]
tensor vnn[i: n * n]
tensor vnm[i: n * m]
tensor vnmm[i: n * m * m]
tensor K[g: n * m]

tensor P[i: n, j: n] projector(j -> i)
tensor Pc[i: n, j: n] projector(j -> i), complex
tensor G[i: n, j: n] posdef
tensor Gc[i: n, j: n] posdef, complex
tensor Q[i: n, j: m, k: n, l: m] projector(k, l -> i, j)
tensor Qc[i: n, j: m, k: n, l: m] projector(k, l -> i, j), complex
tensor Qx[i: m, j: n, k: n, l: m] projector(k, l -> i, j)
tensor Qxc[i: m, j: n, k: n, l: m] projector(k, l -> i, j), complex
tensor Zc[i: n, j: n] complex
tensor X[i: n, j: n] invertible
"""

PROG = diagalg.parse(DECLS)
ENV = PROG.env
SUBS = ENV.concrete_subs()
T = PROG.tensors
n, m = T["B"].dims  # the program's own dimension symbols
SEQ = T["vseq"].dims[0]
THREE = sympy.Integer(3)

#: A vector to cap a port of each dimension.
VECTOR = {n: "vn", m: "vm", THREE: "v3", SEQ: "vseq", n * n: "vnn", n * m: "vnm", n * m * m: "vnmm"}
#: Free labels are only put on edges of these (small) dimensions.
SMALL = {n, m, THREE, SEQ, n * m}
MAX_FREE = 3

SETTINGS = dict(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --------------------------------------------------------------------------- helpers


def expr_of(d: Diagram, coeff=sympy.Integer(1)) -> Expr:
    return Expr.of([Term(sympy.sympify(coeff), d)], {label: d.dims[e] for label, e in d.free})


def show(e: Expr) -> str:
    try:
        return diagalg.to_text(e)
    except Exception as err:  # printing is not under test here
        return f"<unprintable {err!r}> {e!r}"


def numerically_equal(a: Expr, b: Expr, seed: int = 0) -> bool:
    return compare(a, b, ENV, seed=seed).status == "equal"


def simplified(e: Expr, rule) -> Expr:
    """``e`` simplified with ``rule`` (a name or a rule object), ``delta`` and ``collect``."""
    if isinstance(rule, str):
        return simplify(e, rules=(rule, "delta", "collect"), subs=SUBS).result
    return simplify(e, rules=(rule.name, "delta", "collect"), subs=SUBS, extra_rules={rule.name: rule}).result


def proves(rule: str, lhs: str, rhs: str) -> bool:
    """Both sides simplified with the rule (and delta, collect) are canonically equal."""
    a, b = PROG.expr(lhs), PROG.expr(rhs)
    return canonical.equal(simplified(a, rule), simplified(b, rule), SUBS)


def sites_of(rule, text: str) -> list[Site]:
    (t,) = PROG.expr(text).terms
    return list(rule.match(t.diagram))


class Wiring:
    """Nodes with open ports, wired into a diagram at random."""

    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd
        self.nodes: list[list] = []  # [op, edges (None = open)]
        self.dims: dict[str, sympy.Expr] = {}
        self.free: dict[str, str] = {}
        self.planted: list[str] = []  # edges planted by motifs

    def edge(self, dim, planted: bool = True) -> str:
        e = f"e{len(self.dims)}"
        self.dims[e] = dim
        if planted:
            self.planted.append(e)
        return e

    def add(self, op, edges: list | None = None) -> int:
        self.nodes.append([op, list(edges) if edges is not None else [None] * len(op.ports)])
        return len(self.nodes) - 1

    def open_ports(self) -> list[tuple[int, int, sympy.Expr]]:
        out = []
        for ni, (op, edges) in enumerate(self.nodes):
            for pi, e in enumerate(edges):
                if e is None:
                    out.append((ni, pi, op.port_dim(op.ports[pi])))
        return out

    def label(self, e: str) -> bool:
        if len(self.free) >= MAX_FREE or self.dims[e] not in SMALL:
            return False
        self.free[f"L{len(self.free)}"] = e
        return True

    def finish(self) -> Diagram:
        rnd = self.rnd
        ports = self.open_ports()
        rnd.shuffle(ports)
        todo = list(ports)
        while todo:
            ni, pi, dim = todo.pop()
            same = [k for k, p in enumerate(todo) if p[2] == dim]
            r = rnd.random()
            if r < 0.45 and same:
                k = rnd.choice(same)
                nj, pj, _ = todo.pop(k)
                e = self.edge(dim, planted=False)
                self.nodes[ni][1][pi] = self.nodes[nj][1][pj] = e
            elif r < 0.55 and len(same) >= 2:
                e = self.edge(dim, planted=False)
                self.nodes[ni][1][pi] = e
                for k in sorted(rnd.sample(same, 2), reverse=True):
                    nj, pj, _ = todo.pop(k)
                    self.nodes[nj][1][pj] = e
            elif r < 0.62:
                same_dim = [e for e in self.dims if self.dims[e] == dim]
                if same_dim:  # an extra port on an existing edge (often a planted one)
                    self.nodes[ni][1][pi] = rnd.choice(same_dim)
                else:
                    self.nodes[ni][1][pi] = self.edge(dim, planted=False)
            elif r < 0.80:
                e = self.edge(dim, planted=False)
                self.nodes[ni][1][pi] = e
                if not self.label(e):
                    self.add(tensor_op(T[VECTOR[dim]]), [e])
            elif r < 0.95:
                e = self.edge(dim, planted=False)
                self.nodes[ni][1][pi] = e
                self.add(tensor_op(T[VECTOR[dim]]), [e])
            else:  # summed against the all-ones vector
                self.nodes[ni][1][pi] = self.edge(dim, planted=False)
        # perturb: a free label on a planted edge (a rewrite must then not consume it)
        if self.planted and rnd.random() < 0.2:
            self.label(rnd.choice(self.planted))
        order = list(range(len(self.nodes)))
        rnd.shuffle(order)
        nodes = [Node(self.nodes[k][0], tuple(self.nodes[k][1])) for k in order]
        return Diagram.build(nodes, self.dims, self.free)


@dataclass
class Case:
    diagram: Diagram

    def __repr__(self) -> str:
        return f"Case({show(expr_of(self.diagram))})"


# --------------------------------------------------------------------------- motifs


def shift_motif(w: Wiring, rnd: random.Random) -> None:
    """A chain or ring of shifts of one dimension with random offsets (mostly of one sign)."""
    dim = rnd.choice([n, m, THREE, SEQ])
    length = rnd.randint(1, 4)
    sign = rnd.choice([1, -1])
    offsets = []
    for _ in range(length):
        o = rnd.choice([0, 1, 1, 2, 3, 5]) * sign
        if rnd.random() < 0.2:
            o = -o  # a sign flip somewhere: those pairs must not compose
        offsets.append(o)
    # inner joints are planted edges; the two ends are open ports (or one edge: a ring)
    edges = [None] + [w.edge(dim) for _ in range(length - 1)] + [None]
    if length > 1 and rnd.random() < 0.25:
        edges[0] = edges[-1] = w.edge(dim)
    for k, o in enumerate(offsets):
        a, b = edges[k], edges[k + 1]
        if rnd.random() < 0.08:
            a = b = a or b or w.edge(dim)  # a self-loop: the trace of one shift
        w.add(ShiftOp(o, dim), [a, b])


HERMITIAN = ("P", "Pc", "G", "Gc", "Q", "Qc", "Qx", "Qxc", "A", "Zc", "X")


def hermitian_motif(w: Wiring, rnd: random.Random) -> None:
    """A chain (or ring) of occurrences of one tensor, each joined group to group to the
    next, position by position where the leg dimensions agree (sometimes not all legs)."""
    decl = T[rnd.choice(HERMITIAN)]
    ins = decl.inputs or (decl.legs[1],)
    outs = decl.outputs or (decl.legs[0],)
    length = rnd.randint(1, 3)
    occ = []
    for _ in range(length):
        conj = decl.is_complex and rnd.random() < 0.4
        inv = 1 if decl.structure in ("posdef", "invertible") and rnd.random() < 0.3 else 0
        left, right = (outs, ins) if rnd.random() < 0.7 else (ins, outs)
        occ.append((tensor_op(decl, conj, inv), left, right, {}))

    def join(first, second) -> None:
        for a, b in zip(first[2], second[1]):
            if decl.leg_dim(a) == decl.leg_dim(b) and rnd.random() < 0.93:
                e = first[3].get(a) or second[3].get(b) or w.edge(decl.leg_dim(a))
                first[3][a] = second[3][b] = e

    for k in range(1, length):
        join(occ[k - 1], occ[k])
    if length > 1 and rnd.random() < 0.2:
        join(occ[-1], occ[0])  # a ring: a trace
    for op, _, _, legs in occ:
        w.add(op, [legs.get(p) for p in op.ports])


PART_DIMS = ((n, m), (n, m), (m, n), (n, n), (n, m, m), (m,))


def reshape_motif(w: Wiring, rnd: random.Random) -> None:
    """r reshape nodes meeting on their wholes or on all their parts."""
    parts = rnd.choice(PART_DIMS)
    r = rnd.choice([1, 2, 2, 2, 3])

    def dims_of_next() -> tuple:
        if rnd.random() < 0.2:  # different part dims of the same whole size (a permutation)
            alt = [p for p in PART_DIMS if sympy.Mul(*p) == sympy.Mul(*parts) and p != parts]
            if alt:
                return rnd.choice(alt)
        return parts

    ops = [ReshapeOp(parts)] + [ReshapeOp(dims_of_next()) for _ in range(r - 1)]
    if rnd.random() < 0.5:  # wholes on one edge
        whole = w.edge(sympy.Mul(*parts))
        for op in ops:
            w.add(op, [None] * len(op.part_dims) + [whole])
    else:  # parts joined, position by position (sometimes crossed, sometimes not all)
        part_edges = [w.edge(d) for d in parts]
        for op in ops:
            edges = list(part_edges) if op.part_dims == parts else [None] * len(op.part_dims)
            if op.part_dims == parts and len(parts) > 1 and rnd.random() < 0.15:
                k = rnd.randrange(len(parts) - 1)
                if parts[k] == parts[k + 1]:
                    edges[k], edges[k + 1] = edges[k + 1], edges[k]  # crossed: a transposition
            if rnd.random() < 0.1:
                edges[rnd.randrange(len(edges))] = None  # one part not joined
            w.add(op, edges + [None])


def random_diagram(motif, seed: int) -> Diagram:
    """One to three planted motifs and maybe a filler tensor, wired at random."""
    rnd = random.Random(seed)
    w = Wiring(rnd)
    for _ in range(rnd.choice([1, 1, 2, 3])):
        motif(w, rnd)
    if rnd.random() < 0.3:  # an unrelated filler tensor
        w.add(tensor_op(T[rnd.choice(["A", "B", "K"])]))
    return w.finish()


@st.composite
def diagrams(draw, motif) -> Case:
    return Case(random_diagram(motif, draw(st.integers(0, 2**32 - 1))))


# --------------------------------------------------------------------------- the property


def check_rule_on(rule, d: Diagram, fired: collections.Counter, kind) -> list[str]:
    """Every site alone, the disjoint batch and the whole simplification keep the value."""
    problems = []
    before = expr_of(d)
    sites = list(rule.match(d))
    for s in sites:
        fired[kind(d, s)] += 1
    for s in sites[:4]:
        try:
            factor, d2 = apply_edits(d, [rule.rewrite(d, s)])
        except Exception as err:  # a crash in a rewrite is a bug too
            problems.append(f"site {s}: rewrite raised {err!r} on {show(before)}")
            continue
        after = expr_of(d2, factor)
        if not numerically_equal(before, after):
            problems.append(f"site {s}: {show(before)}  ->  {show(after)}")
    batch = disjoint_sites(sites)
    if len(batch) > 1:
        fired["batch"] += 1
        factor, d2 = apply_edits(d, [rule.rewrite(d, s) for s in batch])
        after = expr_of(d2, factor)
        if not numerically_equal(before, after):
            problems.append(f"batch {batch}: {show(before)}  ->  {show(after)}")
    if sites:
        result = simplified(before, rule)
        if not numerically_equal(before, result):
            problems.append(f"simplify: {show(before)}  ->  {show(result)}")
        again = simplified(result, rule)
        if not canonical.equal(result, again, SUBS):
            problems.append(f"not idempotent: {show(result)}  ->  {show(again)}")
    return problems


def run_property(rule, motif, kind, examples: int) -> collections.Counter:
    fired: collections.Counter = collections.Counter()

    @settings(max_examples=examples, **SETTINGS)
    @given(diagrams(motif))
    def prop(case: Case) -> None:
        problems = check_rule_on(rule, case.diagram, fired, kind)
        assert not problems, "\n".join(problems)

    prop()
    return fired


def shift_kind(d: Diagram, s: Site) -> str:
    kind = s.data[0]
    if kind == "compose":
        a, b = (d.nodes[i].op.offset for i in s.nodes)
        return "compose-with-0" if 0 in (a, b) else "compose"
    return kind


def symmetry_kind(d: Diagram, s: Site) -> str:
    op = d.nodes[s.nodes[0]].op
    if s.data[0] == "hermitian":
        return f"hermitian:{op.decl.name}" + (":inv" if op.inv else "")
    _, g1, g2 = s.data
    return f"idempotent:{'matrix' if len(op.decl.legs) == 2 else 'multi'}:{g1}-{g2}"


def reshape_kind(d: Diagram, s: Site) -> str:
    return f"{s.data[0]}:r={len(s.nodes)}"


def test_shift_sites_keep_the_value():
    fired = run_property(get_rule("shift"), shift_motif, shift_kind, examples=120)
    print("shift firings:", dict(fired))
    assert fired["compose"] >= 30 and fired["compose-with-0"] >= 5
    assert fired["identity"] >= 10 and fired["zero"] >= 5 and fired["batch"] >= 5
    assert fired["orient"] >= 10  # shift(-o)[a, b] -> shift(o)[b, a] keeps the value too


def test_symmetry_sites_keep_the_value():
    fired = run_property(get_rule("symmetry"), hermitian_motif, symmetry_kind, examples=150)
    print("symmetry firings:", dict(fired))
    for k in (
        "hermitian:Pc",
        "hermitian:Gc",
        "hermitian:Gc:inv",
        "hermitian:Qc",
        "idempotent:matrix:in-out",
        "idempotent:matrix:out-out",
        "idempotent:matrix:in-in",
        "idempotent:multi:in-out",
    ):
        assert fired[k] >= 2, (k, dict(fired))
    assert not any(k.startswith("hermitian:Qx") for k in fired)  # groups of different leg dims
    assert fired["batch"] >= 3


def test_reshape_sites_keep_the_value():
    fired = run_property(get_rule("reshape"), reshape_motif, reshape_kind, examples=150)
    print("reshape firings:", dict(fired))
    for k in ("wholes:r=1", "wholes:r=2", "wholes:r=3", "parts:r=1", "parts:r=2", "parts:r=3"):
        assert fired[k] >= 2, (k, dict(fired))
    assert fired["wholes:r=2"] + fired["parts:r=2"] >= 30 and fired["batch"] >= 3


# --------------------------------------------------------------------------- the property catches wrong rules


class ComposeAnySigns(ShiftRule):
    """Wrong: composes shifts of opposite signs too."""

    name = "wrong-shift"

    def match(self, diagram):
        for i, node in enumerate(diagram.nodes):
            if isinstance(node.op, ShiftOp):
                for j, port in diagram.incidence[node.edges[1]]:
                    if (
                        j != i
                        and port == 0
                        and isinstance(diagram.nodes[j].op, ShiftOp)
                        and len(diagram.incidence[node.edges[1]]) == 2
                        and not diagram.edge_labels[node.edges[1]]
                    ):
                        yield Site((i, j), (node.edges[1],), data=("compose",))


class PosdefIdempotent(SymmetryRule):
    """Wrong: treats every Hermitian tensor (posdef too) as idempotent, and ignores conj."""

    name = "wrong-symmetry"

    def match(self, diagram):
        for i, node in enumerate(diagram.nodes):
            op = node.op
            if not hasattr(op, "decl") or not op.decl.hermitian or op.inv:
                continue
            for j in self._partners(diagram, i, op.decl.inputs[0]):
                other = diagram.nodes[j].op
                if (
                    getattr(other, "decl", None) == op.decl
                    and not other.inv
                    and self._joined(diagram, i, j, op.decl.inputs, op.decl.outputs)
                ):
                    yield Site((i, j), (), data=("idempotent", "in", "out"))


class TransposingReshape(ReshapeRule):
    """Wrong: two reshapes on one whole edge with part dims equal up to order are
    undone by matching parts of equal dimension."""

    name = "wrong-reshape"

    def match(self, diagram):
        for edge, inc in diagram.incidence.items():
            ops = [diagram.nodes[k].op for k, _ in inc]
            if (
                len(inc) == 2
                and not diagram.edge_labels[edge]
                and all(isinstance(o, ReshapeOp) for o in ops)
                and all(p == len(o.part_dims) for o, (_, p) in zip(ops, inc))
                and sorted(map(str, ops[0].part_dims)) == sorted(map(str, ops[1].part_dims))
            ):
                yield Site(tuple(k for k, _ in inc), (edge,), data=("wholes",))

    def rewrite(self, diagram, site):
        a, b = (diagram.nodes[k] for k in site.nodes)
        free = list(range(len(b.op.part_dims)))
        merge = []
        for t, dim in enumerate(a.op.part_dims):
            u = next(u for u in free if b.op.part_dims[u] == dim)
            free.remove(u)
            merge.append((a.edges[t], b.edges[u]))
        return Edit(remove=site.nodes, merge=tuple(merge), drop_edges=site.edges)


@pytest.mark.parametrize(
    "wrong, motif",
    [(ComposeAnySigns(), shift_motif), (PosdefIdempotent(), hermitian_motif), (TransposingReshape(), reshape_motif)],
)
def test_the_property_catches_a_wrong_rule(wrong, motif):
    fired: collections.Counter = collections.Counter()
    for seed in range(300):
        if check_rule_on(wrong, random_diagram(motif, seed), fired, lambda d, s: "site"):
            return
    pytest.fail(f"{wrong.name}: no counterexample in 300 random diagrams ({fired['site']} sites)")


# --------------------------------------------------------------------------- shift: identities and guards


@pytest.mark.parametrize(
    "lhs, rhs",
    [
        ("shift(1)[q: seq, k] shift(1)[k, t]", "shift(2)[q: seq, t]"),  # previous token, twice
        ("shift(-2)[q: n, k] shift(-1)[k, t]", "shift(-3)[q: n, t]"),
        ("shift(3)[q: n, k] shift(0)[k, t]", "shift(3)[q: n, t]"),
        ("shift(1)[q: n, k] shift(2)[k, l] shift(1)[l, t]", "shift(4)[q: n, t]"),
        ("shift(0)[a: n, b] vn[b]", "vn[a]"),
        ("shift(0)[a: n, b]", "delta[a: n, b]"),
        ("shift(0)[a: n, a]", "n"),
        ("shift(2)[a: n, a]", "0"),
        ("shift(1)[a: n, b] shift(2)[b, a]", "0"),
        ("shift(3)[a: 3, b] v3[b]", "0 * v3[a]"),
    ],
)
def test_shift_identities(lhs, rhs):
    assert proves("shift", lhs, rhs)
    assert numerically_equal(PROG.expr(lhs), PROG.expr(rhs))


@pytest.mark.parametrize("o1, o2", [(1, -1), (2, -1), (-1, 1), (-2, 3), (1, -2)])
def test_opposite_sign_shifts_do_not_compose(o1, o2):
    text = f"shift({o1})[q: n, k] shift({o2})[k, t]"
    assert not [s for s in sites_of(ShiftRule(), text) if s.data[0] == "compose"]
    # ... and composing them would be wrong: the middle index leaves the range
    assert (
        compare(PROG.expr(text), PROG.expr(f"shift({o1 + o2})[q: n, t]"), ENV, expect_equal=False).status == "different"
    )
    assert not proves("shift", text, f"shift({o1 + o2})[q: n, t]")


@pytest.mark.parametrize(
    "text",
    [
        "shift(1)[q: n, k] shift(1)[k, t] vn[k]",  # the middle edge is a hyperedge
        "keep[k](shift(1)[q: n, k] shift(1)[k, t])",  # ... or carries a free label
        "shift(1)[q: n, k] shift(1)[k: n, t] delta[k, l, l2] vn[l] vn[l2]",
    ],
)
def test_shifts_on_shared_middle_edges_do_not_compose(text):
    assert not [s for s in sites_of(ShiftRule(), text) if s.data[0] == "compose"]


def test_opposite_sign_composition_would_be_caught():
    """The property's oracle refutes the rewrite the sign guard forbids."""
    (t,) = PROG.expr("shift(1)[q: n, k] shift(-1)[k, t] vn[t]").terms
    d = t.diagram
    i, j = (k for k, node in enumerate(d.nodes) if isinstance(node.op, ShiftOp))
    if d.nodes[i].op.offset < 0:
        i, j = j, i
    wrong = ShiftRule().rewrite(d, Site((i, j), (d.nodes[i].edges[1],), data=("compose",)))
    factor, d2 = apply_edits(d, [wrong])
    assert not numerically_equal(expr_of(d), expr_of(d2, factor))


def test_shift_near_misses_are_not_proved():
    assert not proves("shift", "shift(1)[q: n, k] shift(1)[k, t]", "shift(1)[q: n, t]")
    assert not proves("shift", "shift(1)[a: n, b] vn[b]", "vn[a]")
    assert (
        compare(PROG.expr("shift(1)[a: n, b] vn[b]"), PROG.expr("vn[a]"), ENV, expect_equal=False).status == "different"
    )


def test_symbolic_shift_dimension_is_never_assumed_small():
    assert not sites_of(ShiftRule(), "shift(7)[a: n, b] vn[b]")
    assert not sites_of(ShiftRule(), "shift(7)[a: seq, b] vseq[b]")  # a named concrete dimension
    assert sites_of(ShiftRule(), "shift(-3)[a: 3, b] v3[b]")[0].data == ("zero",)


# --------------------------------------------------------------------------- symmetry: identities and guards


@pytest.mark.parametrize(
    "lhs, rhs",
    [
        ("P[i, j] P[j, k]", "P[i, k]"),
        ("P[i, j] P[j, k] P[k, l]", "P[i, l]"),
        ("P[j, i] P[j, k]", "P[i, k]"),  # real: Pᵀ P = P
        ("P[i, j] P[k, j]", "P[i, k]"),  # real: P Pᵀ = P
        ("P[i, j] P[j, i]", "P[i, i]"),
        ("Pc[i, j] Pc[j, k]", "Pc[i, k]"),
        ("conj(Pc)[i, j] conj(Pc)[j, k]", "conj(Pc)[i, k]"),
        ("conj(Pc)[i, j] Pc[i, k]", "Pc[j, k]"),  # P† P = P
        ("Q[i, j, k, l] Q[k, l, a, b]", "Q[i, j, a, b]"),
        ("Q[k, l, i, j] Q[k, l, a, b]", "Q[i, j, a, b]"),  # real multi-leg: block-transposed
        ("Qc[i, j, k, l] Qc[k, l, a, b]", "Qc[i, j, a, b]"),
        ("conj(Pc)[j, i]", "Pc[i, j]"),
        ("conj(Gc)[j, i]", "Gc[i, j]"),
        ("conj(inv(Gc))[j, i]", "inv(Gc)[i, j]"),
        ("conj(Qc)[k, l, i, j]", "Qc[i, j, k, l]"),
        ("vn[i] conj(Gc)[i, j] vn[j]", "vn[i] Gc[j, i] vn[j]"),
    ],
)
def test_symmetry_identities(lhs, rhs):
    assert proves("symmetry", lhs, rhs)
    assert numerically_equal(PROG.expr(lhs), PROG.expr(rhs))


@pytest.mark.parametrize(
    "text, wrong",
    [
        ("A[i, j] A[j, k]", "A[i, k]"),  # not a projector
        ("G[i, j] G[j, k]", "G[i, k]"),  # Hermitian, but not idempotent
        ("X[i, j] X[j, k]", "X[i, k]"),
        ("Pc[j, i] Pc[j, k]", "Pc[i, k]"),  # complex: Pᵀ P is not P
        ("Pc[i, j] conj(Pc)[j, k]", "Pc[i, k]"),  # P conj(P) is not P
        ("Q[i, j, k, l] Q[k, l2, a, b]", "Q[i, j, a, b] delta[l: m, l2]"),  # partly joined
        ("Q[i, j, k, l] Q[k, l, a, b] vn[k]", "Q[i, j, a, b] vn[k] delta[k]"),  # a hyperedge
        ("Qx[k, l, i, j] Qx[k, l, a, b]", "Qx[i, j, a, b]"),  # not dims-matched
    ],
)
def test_symmetry_does_not_fire_on_non_idempotent_pairs(text, wrong):
    assert not [s for s in sites_of(SymmetryRule(), text) if s.data[0] == "idempotent"]
    a, b = PROG.expr(text), PROG.expr(wrong)
    assert not canonical.equal(simplified(a, "symmetry"), simplified(b, "symmetry"), SUBS)
    if text.startswith("Qx[k"):
        return  # the right side has other dims: no numeric comparison
    assert compare(a, b, ENV, expect_equal=False).status == "different"


@pytest.mark.parametrize(
    "text, wrong",
    [
        ("conj(Zc)[j, i]", "Zc[i, j]"),  # not Hermitian
        ("Pc[j, i]", "Pc[i, j]"),  # a complex Hermitian matrix is not symmetric
    ],
)
def test_hermitian_normalisation_guards(text, wrong):
    assert not sites_of(SymmetryRule(), text)
    assert compare(PROG.expr(text), PROG.expr(wrong), ENV, expect_equal=False).status == "different"


def test_qx_conjugate_is_left_alone():
    """Output and input legs of different dimensions: the group swap is not a tensor of that type."""
    assert not sites_of(SymmetryRule(), "conj(Qxc)[i, j, k, l]")


def test_antisymmetric_zeros_come_from_the_canonical_form():
    """Documented in the symmetry rule: these need no rule, canonical gives sign 0."""
    prog = diagalg.parse(
        "dim n\ntensor T[i: n, j: n] antisymmetric(i, j)\ntensor S[i: n, j: n] symmetric(i, j)\n"
        "tensor P[i: n, j: n] projector(j -> i)"
    )
    for text in ("T[i, i]", "S[i, j] T[i, j]", "P[i, j] T[i, j]"):
        (t,) = prog.expr(text).terms
        assert canonical.canonical_term(t.diagram)[1] == 0, text
        assert canonical.equal(prog.expr(text), prog.expr("0"), {})


# --------------------------------------------------------------------------- reshape: identities and guards

RESHAPE_DECLS = (
    DECLS
    + """\
tensor M[i: n, j: m]
tensor N[i: n, j: m]
tensor Nt[j: m, i: n]
tensor W[j: m, l: m]
tensor Xm[k: n, l: m]
tensor Sq[i: n, j: n]
tensor z[g: n * m]
"""
)
RPROG = diagalg.parse(RESHAPE_DECLS)


def rproves(lhs: str, rhs: str) -> bool:
    a, b = RPROG.expr(lhs), RPROG.expr(rhs)
    return canonical.equal(simplified(a, "reshape"), simplified(b, "reshape"), SUBS)


def rnum(lhs: str, rhs: str, equal: bool = True) -> str:
    return compare(RPROG.expr(lhs), RPROG.expr(rhs), RPROG.env, expect_equal=equal).status


KRON_AW = "group[(i, j) -> r](group[(k, l) -> c](A[i, k] W[j, l]))"
VEC_X = "group[(k2, l2) -> c](Xm[k2, l2])"


@pytest.mark.parametrize(
    "lhs, rhs",
    [
        ("split[g -> (a: n, b: m)](group[(i, j) -> g](M[i, j]))", "M[a, b]"),  # split after group
        ("split[g -> (j2: n, i2: n)](group[(i, j) -> g](Sq[i, j]))", "Sq[j2, i2]"),  # relabelled, not transposed
        ("group[(a, b) -> h](split[g -> (a: n, b: m)](K[g]))", "K[h]"),  # group after split
        ("group[(i, j) -> g](M[i, j]) group[(k, l) -> g](N[k, l])", "M[i, j] N[i, j]"),
        ("group[(i, k) -> r](group[(j, l) -> c](delta[i: n, j] delta[k: m, l]))", "delta[r: n * m, c]"),  # kron(I, I)
        ("group[(i, k) -> r](group[(j, l) -> c](delta[i: n, j] delta[k: m, l])) z[c]", "z[r]"),
        (f"{KRON_AW} {VEC_X}", "group[(i, j) -> r](A[i, k] Xm[k, l] W[j, l])"),  # (A ⊗ W) vec X = vec(A X Wᵀ)
        ("group[(i, j) -> g](M[i, j]) delta[g]", "M[i, j] delta[i] delta[j]"),  # r = 1: grouped sums
        (
            "group[(i3, j3) -> f](group[(i2, j2) -> h](group[(i, j) -> g](delta[i: n, i2, i3] delta[j: m, j2, j3])))",
            "delta[g: n * m, h, f]",
        ),  # grouped copy tensors stay copy tensors
    ],
)
def test_reshape_identities(lhs, rhs):
    assert rproves(lhs, rhs)
    assert rnum(lhs, rhs) == "equal"


@pytest.mark.parametrize(
    "lhs, rhs",
    [
        # different part dims of one whole size: a permutation of the whole index
        ("split[g -> (a: m, b: n)](group[(i, j) -> g](M[i, j]))", "M[b, a]"),
        ("group[(i, j) -> g](M[i, j]) group[(l, k) -> g](Nt[l, k])", "M[i, j] Nt[j, i]"),
        # kron grouped the other way on one end: the commutation matrix
        ("group[(i, k) -> r](group[(l, j) -> c](delta[i: n, j] delta[k: m, l]))", "delta[r: n * m, c]"),
        # (A ⊗ W) vec X without the transpose
        (f"{KRON_AW} {VEC_X}", "group[(i, j) -> r](A[i, k] Xm[k, l] W[l, j])"),
    ],
)
def test_reshape_near_misses(lhs, rhs):
    assert not rproves(lhs, rhs)
    assert rnum(lhs, rhs, equal=False) == "different"


def test_reshapes_with_different_part_dims_do_not_fire():
    for text in (
        "split[g -> (a: m, b: n)](group[(i, j) -> g](M[i, j]))",
        "group[(i, j) -> g](M[i, j]) group[(l, k) -> g](Nt[l, k])",
    ):
        (t,) = RPROG.expr(text).terms
        assert {nd.op.part_dims for nd in t.diagram.nodes if isinstance(nd.op, ReshapeOp)} == {(n, m), (m, n)}
        assert not list(ReshapeRule().match(t.diagram)), text


def test_crossed_parts_do_not_fire_and_would_be_wrong():
    """(n, n) parts joined crosswise are a transposition of the whole index, not the identity."""
    e = RPROG.expr("group[(i, j) -> g](delta[i: n, a] delta[j: n, b]) group[(b2, a2) -> h](delta[a, a2] delta[b, b2])")
    d = simplify(e, rules=("delta",)).result.terms[0].diagram
    assert not list(ReshapeRule().match(d))
    rs = [k for k, nd in enumerate(d.nodes) if isinstance(nd.op, ReshapeOp)]
    assert len(rs) == 2
    forced = Edit(
        remove=tuple(rs),
        merge=((d.nodes[rs[0]].edges[-1], d.nodes[rs[1]].edges[-1]),),
        drop_edges=tuple(d.nodes[rs[0]].edges[:-1]),
    )
    factor, d2 = apply_edits(d, [forced])
    assert not numerically_equal(expr_of(d), expr_of(d2, factor))


def test_reshape_guards_on_shared_edges():
    rule = ReshapeRule()
    # the grouped label also meets a tensor: a hyperedge, no wholes site
    (t,) = RPROG.expr("group[(i, j) -> g](M[i, j]) group[(k, l) -> g](N[k, l]) z[g]").terms
    assert not [s for s in rule.match(t.diagram) if s.data[0] == "wholes"]
    # the grouped label is kept free
    (t,) = RPROG.expr("keep[g](group[(i, j) -> g](M[i, j]) group[(k, l) -> g](N[k, l]))").terms
    assert not [s for s in rule.match(t.diagram) if s.data[0] == "wholes"]


# --------------------------------------------------------------------------- the example file


def test_example_file_checks(cli):
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / "shift_and_reshape.diag"
    run = cli("check", path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert " 0 failed" in run.stdout


def test_a_box_that_collects_to_one_term_is_no_longer_a_box(cli, write_diag):
    # (x + x) y: collect works inside the parentheses, and the one-term box that is
    # left is its contents, so `by collect` alone reaches 2 x y
    f = write_diag(
        "box.diag",
        """\
        dim n
        tensor x[i: n]
        tensor y[i: n]
        calc (x[i] + x[i]) y[j]
          = 2 * x[i] y[j]  by collect
        """,
    )
    res = cli("check", f)
    assert res.returncode == 0, res.stdout


@pytest.mark.parametrize(
    "text, same",
    [
        ("shift(-1)[t: n, k: n]", "shift(1)[k: n, t: n]"),
        ("shift(-2)[q: n, k] shift(-1)[k, t]", "shift(-3)[q: n, t]"),
        ("shift(1)[q: n, k] shift(-1)[t, k]", "shift(2)[q: n, t]"),  # the second written the other way round
    ],
)
def test_shifts_are_oriented_so_either_spelling_composes(text, same):
    # shift(-o)[a, b] is shift(o)[b, a]: equal in the canonical form, and the rule orients it
    assert proves("shift", text, same)
    assert numerically_equal(PROG.expr(text), PROG.expr(same))
