"""``unitary_inverse``: ``inv(U)[b, a] -> conj(U)[a, b]`` for a unitary U (U⁻¹ = U†).

A site is an occurrence of ``inv(U)`` (odd depth) of a tensor declared
``unitary(b -> a)``; it becomes ``conj(U)`` (the conjugate of the conjugate for
``conj(inv(U))``: U itself) with each leg on the edge the same leg of ``inv(U)``
was on, so the transpose is in the wiring. Domain: the declaration (U† U = I on
the inputs and, U being square, U U† = I). Because it reads the declaration,
the rule is not used inside a derivative's argument. Termination: an ``inv``
goes and nothing is added (no rule introduces ``inv`` of a conjugate).
"""

from __future__ import annotations

from typing import Iterator

from ..model import Diagram, Node, TensorOp, tensor_op
from .base import Edit, Site, register


@register
class UnitaryInverseRule:
    name = "unitary_inverse"
    description = "inv(U) -> conj(U) transposed for a unitary U"
    default = True  # used by `assert` when no rule is named
    inside_derivative = False  # reads the unitary declaration
    on_sums = False
    order = 35  # the engine's sequence (lower first)
    #: True when the rule relies on declared tensor properties (unsound inside diff by that tensor)
    uses_declared_properties = True

    def match(self, diagram: Diagram) -> Iterator[Site]:
        for i, node in enumerate(diagram.nodes):
            op = node.op
            if isinstance(op, TensorOp) and op.inv % 2 == 1 and op.decl.structure == "unitary":
                yield Site((i,))

    def rewrite(self, diagram: Diagram, site: Site) -> Edit:
        (i,) = site.nodes
        node = diagram.nodes[i]
        op = node.op
        assert isinstance(op, TensorOp)  # match found an inverse unitary here
        edge = dict(zip(op.ports, node.edges))
        new = tensor_op(op.decl, conj=not op.conj, inv=0)
        return Edit(replace=((i, Node(new, tuple(edge[leg] for leg in new.ports))),))
