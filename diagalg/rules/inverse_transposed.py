"""``inverse_transposed``: ``S[i, j] inv(S)[i, k] -> delta[j, k]`` for a real matrix S
that is its own transpose (declared ``symmetric`` in its two legs, or a real ``posdef``).

The ``inverse`` rule pairs X with inv(X) by leg name; a symmetric S equals Sᵀ, so
an occurrence of S may be read with its two legs swapped, and then the pair is
the ``inverse`` rule's. A site is such an occurrence (not inverted) whose swapped
reading makes an ``inverse`` pair; the rewrite is that pair's cancellation.
``inv(S)[i, j] == inv(S)[j, i]`` needs no rule: the canonical form already treats
the inverse of a symmetric matrix as symmetric.

Domain: the declaration (Sᵀ = S). A complex ``posdef`` (Hermitian) matrix is not
its own transpose (Sᵀ = conj(S)) and does not match. Because it reads the
declared symmetry, which does not hold for the variable inside a derivative by S,
the rule is not used inside a derivative's argument. Termination: two nodes go.
"""

from __future__ import annotations

from typing import Iterator, cast

from ..model import Diagram, Node, TensorDecl, TensorOp
from .base import Edit, Site, cancel_pair, register
from .inverse import pairs


def own_transpose(decl: TensorDecl) -> bool:
    """True when the declaration makes the matrix equal to its transpose: one input and
    one output leg, real, and symmetric in them (a ``symmetric`` group or ``posdef``)."""
    if decl.is_complex or len(decl.inputs) != 1 or len(decl.outputs) != 1:
        return False
    return decl.symmetric_matrix or decl.structure == "posdef"


def transposed(diagram: Diagram, i: int) -> Diagram:
    """``diagram`` with node ``i`` (a two-leg tensor equal to its transpose) read with its
    legs swapped: the same tensor, the same node indices and edges."""
    nodes = list(diagram.nodes)
    nodes[i] = Node(nodes[i].op, nodes[i].edges[::-1])
    return diagram.with_nodes(nodes)


@register
class InverseTransposedRule:
    name = "inverse_transposed"
    description = "S inv(S) -> identity with S's legs transposed, for a real symmetric or posdef S"
    default = True  # used by `assert` when no rule is named
    inside_derivative = False  # reads the declared symmetry
    on_sums = False
    order = 36  # the engine's sequence (lower first): after inverse and the other inverse rules
    #: True when the rule relies on declared tensor properties (unsound inside diff by that tensor)
    uses_declared_properties = True

    def match(self, diagram: Diagram) -> Iterator[Site]:
        for i, node in enumerate(diagram.nodes):
            op = node.op
            if isinstance(op, TensorOp) and op.inv == 0 and op.decl.invertible and own_transpose(op.decl):
                yield from pairs(transposed(diagram, i), i)

    def rewrite(self, diagram: Diagram, site: Site) -> Edit:
        i, j = site.nodes
        return cancel_pair(transposed(diagram, i), i, j, cast("tuple[str, ...]", site.data))
