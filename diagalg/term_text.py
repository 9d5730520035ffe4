"""Printed terms of ``expand`` and ``paths``, short and full.

A listed term can run to hundreds of characters: every let it uses is unfolded into
it. The short form folds each node that is exactly a let's (unfolded) definition back
into the let's name (``A1[h, q, k]`` for its whole softmax, ``x[k, a]`` for an
embedding sum that ``paths`` kept whole); the let is declared in the same file, so
the short form parses back, with the file's declarations, to an equal expression
(tests/test_term_roundtrip.py checks both forms). The full form (``--full-terms``)
folds nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from .engine import unfold
from .expand import expand_terms
from .model import BoxOp, BubbleOp, Diagram, Expr, Node, Term, walk_term, with_inner
from .printing import Folds, expr_text

if TYPE_CHECKING:
    from .model import Op
    from .program import LetDef

__all__ = ["let_folds", "plain", "term_text"]


def plain(t: Term) -> Term:
    """A term with no tags anywhere (tags inside bubbles are provenance, not syntax)."""
    return walk_term(t, lambda x: Term(x.coeff, x.diagram))


def _plain_expr(e: Expr) -> Expr:
    return Expr.of([plain(t) for t in e.terms], e.free_dims)


def _sig(op: Op) -> tuple[object, ...]:
    return (type(op).__name__, getattr(op, "kind", None), tuple(sorted(getattr(op, "ports", ()))))


def _key(op: Op) -> object:
    """The canonical key of ``op`` as a node alone, its ports free under their names."""
    from .canonical import canonical_key

    ports = tuple(op.ports)
    if isinstance(op, BoxOp):  # a sum: its terms' canonical keys and coefficients, in any order
        return (
            "box",
            tuple(sorted(ports)),
            tuple(sorted(repr((canonical_key(t.diagram), t.coeff)) for t in op.inner.terms)),
        )
    d = Diagram.build([Node(op, ports)], {p: op.port_dim(p) for p in ports}, {p: p for p in ports})
    return canonical_key(d)


def let_folds(lets: Mapping[str, LetDef]) -> Folds:
    """The forms of the program's lets (``Program.lets``: name -> LetDef) that a printed
    term may fold: a one-node definition (its node; for a bubble also the node with
    its argument distributed, as ``expand`` leaves it: the same value) and a multi-term
    definition (the box it unfolds to). Other one-term definitions are inlined into
    the product that uses them and are not folded (that would need matching a
    subgraph). Matching is by canonical key, so a node rebuilt with its factors in
    another order or its inner labels renamed still folds."""
    folds = Folds({}, _key, _sig)
    for name, let in lets.items():
        e = _plain_expr(unfold(let.expr))
        labels = tuple(let.labels)
        if set(labels) != set(e.labels):
            continue
        if len(e.terms) > 1:
            folds.add(BoxOp(e, tuple(e.labels)), name, labels)
            continue
        if len(e.terms) != 1:
            continue
        t = e.terms[0]
        d = t.diagram
        free = d.free_map
        if (
            t.coeff != 1
            or len(d.nodes) != 1
            or len(set(d.nodes[0].edges)) != len(d.nodes[0].edges)
            or set(d.nodes[0].edges) != set(free.values())
            or len(set(free.values())) != len(free)
            or len(d.edge_dims) != len(free)
            or not isinstance(d.nodes[0].op, (BoxOp, BubbleOp))
        ):
            continue
        node = d.nodes[0]
        port_of = {edge: p for p, edge in zip(node.op.ports, node.edges)}
        where = tuple(port_of[free[label]] for label in labels)
        folds.add(node.op, name, where)
        if isinstance(node.op, BubbleOp):
            spread = with_inner(
                node.op, _plain_expr(Expr.of(list(expand_terms(node.op.inner)), node.op.inner.free_dims))
            )
            folds.add(spread, name, where)
    return folds


def term_text(t: Term, folds: Folds | None = None) -> str:
    """A listed term as .diag text: short (lets folded) with ``folds``, else full."""
    p = plain(t)
    return expr_text(Expr.of([p], {label: p.diagram.dims[e] for label, e in p.diagram.free}), folds)
