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

from ..model import Diagram, Expr, Node, TensorDecl, Term, tensor_op

#: A check projects its sides when one size draw's output would take more than this
#: share of the memory cap (complex entries, one array per side).
SHARE_OF_CAP = 8


def probe_decl(label: str, dim: sympy.Expr) -> TensorDecl:
    """The random vector contracted with free label ``label``."""
    return TensorDecl(f"probe.{label}", (label,), (dim,))


def project(expr: Expr) -> Expr:
    """``expr`` contracted with one probe vector per free label: a scalar expression."""
    probes = {label: probe_decl(label, dim) for label, dim in expr.free}
    terms = []
    for term in expr.terms:
        d = term.diagram
        nodes = list(d.nodes)
        dims = dict(d.dims)
        for label, edge in d.free:
            nodes.append(Node(tensor_op(probes[label]), (edge,)))
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

