"""``inverse_product``: ``inv(A[i, k] B[k, j]) -> inv(A)[k, i] inv(B)[j, k]`` — the
inverse of a chain of invertible matrices, (AB)⁻¹ = B⁻¹A⁻¹, on the same wiring.

The inverse of an expression keeps its labels (contracted with the expression on
its inputs it gives the identity), so in labels the reversal of the product is
nothing to do: ``inv(M)`` of the chain ``M = A B ⋯`` is the same chain with every
factor replaced by its inverse. A site is an ``inv`` of two free labels whose
argument is one term c·(A B ⋯) (c ≠ 0) whose nodes are all matrices declared
invertible, unitary or posdef (one input and one output leg) joined in one
path, each inner edge joining two legs and each free edge one leg and its label.

Domain: every factor invertible, which the declarations say. Without it the
identity is false ((AB)⁻¹ exists for an n×m A and an m×n B with m > n, but
neither factor has an inverse), so the rule does not fire on undeclared
factors. Termination: a bubble goes and no node is added (each factor's
inverse is one tensor node).
"""

from __future__ import annotations

from typing import Iterator, cast

import sympy

from ..model import BubbleOp, Diagram, Node, TensorOp, Term, replace_node
from ..powers import single_term
from .base import Site, register


def matrix_chain(term: Term, square: bool = False) -> bool:
    """True when ``term``'s nodes are two-leg nodes joined in one path between its two
    free labels (every edge joins two legs, or one leg and one free label); with
    ``square``, each node's two legs have one dimension."""
    d = term.diagram
    if len(d.labels) != 2 or not d.nodes:
        return False
    inc = d.incidence
    labels = d.edge_labels
    for e in d.dims:
        if len(inc[e]) + len(labels[e]) != 2 or len(labels[e]) > 1 or not inc[e]:
            return False
    for n in d.nodes:
        if len(n.edges) != 2 or n.edges[0] == n.edges[1]:
            return False
        if square and sympy.simplify(n.op.port_dim(n.op.ports[0]) - n.op.port_dim(n.op.ports[1])) != 0:
            return False
    seen, stack = {0}, [0]  # connected: one path, no separate loop
    while stack:
        k = stack.pop()
        for e in d.nodes[k].edges:
            for j, _ in inc[e]:
                if j not in seen:
                    seen.add(j)
                    stack.append(j)
    return len(seen) == len(d.nodes)


def _invertible_matrix(n: Node) -> bool:
    op = n.op
    return isinstance(op, TensorOp) and op.decl.invertible and len(op.decl.inputs) == 1 and len(op.decl.outputs) == 1


@register
class InverseProductRule:
    name = "inverse_product"
    description = "inv(A B ...) -> inv(...) inv(B) inv(A) for declared invertible matrices (same wiring)"
    default = True  # used by `assert` when no rule is named
    inside_derivative = False  # reads the invertible declarations
    on_sums = False
    order = 32  # the engine's sequence (lower first): after inverse_expr
    #: True when the rule relies on declared tensor properties (unsound inside diff by that tensor)
    uses_declared_properties = True

    def match(self, diagram: Diagram) -> Iterator[Site]:
        for i, node in enumerate(diagram.nodes):
            op = node.op
            if not isinstance(op, BubbleOp) or op.kind != "inv" or len(op.axes) != 2:
                continue
            term = single_term(op.inner)
            if term is None or term.coeff == 0 or len(term.diagram.nodes) < 2:
                continue
            if matrix_chain(term) and all(_invertible_matrix(n) for n in term.diagram.nodes):
                yield Site((i,), data=term)

    def rewrite(self, diagram: Diagram, site: Site) -> list[tuple[sympy.Expr, Diagram]]:
        (i,) = site.nodes
        term = cast(Term, site.data)
        d = term.diagram
        nodes = []
        for n in d.nodes:
            op = cast(TensorOp, n.op)
            edge = dict(zip(op.ports, n.edges))
            new = TensorOp(op.decl, op.conj, op.inv - 1 if op.inv else 1)
            nodes.append(Node(new, tuple(edge[leg] for leg in new.ports)))
        inverted = d.with_nodes(nodes)
        return [(1 / sympy.sympify(term.coeff), replace_node(diagram, i, inverted))]
