"""Comparing large outputs without materialising them (Freivalds' check).

Two expressions with the same free labels are equal exactly when, for random
vectors ``v_l`` on each free label ``l``, their contractions with all the
vectors are equal with high probability: ``L ≠ R`` as arrays makes
``Σ (L − R)[x] Π v_l[x_l]`` a nonzero polynomial in the vectors' entries, so
(Schwartz–Zippel) it vanishes with probability at most (number of labels)/p on
the exact path, and with probability zero for Gaussian vectors on the float path.
Both sides become scalars: a claim whose output is far too large to hold (a
Hessian of a six-leg tensor) is still decided, and the memory cap applies only
to the inputs and to the intermediates along the contraction path.

The vectors are ordinary declared tensors (``probe.LABEL``, a name no user can
write), so both paths sample them as they sample everything else: Gaussian with
variance 1/n on the float path, which makes a projected term about the size of
the root mean square of its entries, and uniform residues on the exact path.
On the float path the tolerance is then relative to that root mean square rather
than to the largest entry; docs/language.md says so.
"""

from __future__ import annotations

from typing import Mapping

import sympy

from ..model import DerivOp, Diagram, Expr, Node, TensorDecl, Term, tensor_op

#: A check projects its sides when one size draw's output would take more than this
#: share of the memory cap (complex entries, one array per side).
SHARE_OF_CAP = 8


def probe_decl(label: str, dim: sympy.Expr) -> TensorDecl:
    """The random vector contracted with free label ``label``."""
    return TensorDecl(f"probe.{label}", (label,), (dim,))


def project(expr: Expr, names: Mapping[str, str] | None = None) -> Expr:
    """``expr`` contracted with one probe vector per free label: a scalar expression.

    ``names`` maps a free label to the label whose probe it takes (the probes of a
    derivative's inner labels are the caller's). A derivative node whose inner
    labels are free legs of its term, each its own, is projected inside: its
    derivative is taken of the projected inner expression, so ``diff(E, X)`` costs
    one scalar evaluation per entry of X and its array is never built (exact:
    the probes do not depend on X, so ``Σ ∂E_l/∂X u_l = ∂(Σ E_l u_l)/∂X``).
    """
    names = dict(names or {})
    terms = []
    for term in expr.terms:
        d = term.diagram
        inc = d.incidence
        labels_on = d.edge_labels
        nodes: list[Node] = []
        consumed: set[str] = set()
        for node in d.nodes:
            op = node.op
            if isinstance(op, DerivOp):
                inner_edges = node.edges[: len(op.inner.labels)]
                own = all(len(labels_on[e]) == 1 and len(inc[e]) == 1 for e in inner_edges)
                if own and len(set(inner_edges)) == len(inner_edges):
                    mapping = {
                        label: names.get(labels_on[e][0], labels_on[e][0])
                        for label, e in zip(op.inner.labels, inner_edges)
                    }
                    nodes.append(Node(DerivOp(project(op.inner, mapping), op.wrt), node.edges[len(op.inner.labels) :]))
                    consumed |= set(inner_edges)
                    continue
            nodes.append(node)
        for label, edge in d.free:
            if edge not in consumed:
                name = names.get(label, label)
                nodes.append(Node(tensor_op(probe_decl(name, d.dims[edge])), (edge,)))
        dims = {e: dim for e, dim in d.edge_dims if e not in consumed}
        terms.append(Term(term.coeff, Diagram.build(nodes, dims, {})))
    return Expr.of(terms, {})


def too_large(expr: Expr, sizes: Mapping[sympy.Symbol, int], memory_cap: int) -> bool:
    """True when ``expr``'s output at ``sizes`` would take more than 1/SHARE_OF_CAP of the cap."""
    entries = 1
    for _, dim in expr.free:
        value = sympy.sympify(dim).xreplace({s: sympy.Integer(v) for s, v in sizes.items()})
        if not value.is_Integer:
            return False
        entries *= int(value)
    return entries * 16 * SHARE_OF_CAP > memory_cap
