"""``symmetry``: the declared properties of projectors and Hermitian tensors.

A tensor declared ``projector(ins -> outs)`` or ``posdef`` is, read as the
matrix M from its input legs (columns, row-major in declared group order) to
its output legs (rows), Hermitian: ``M† = M``; a projector is moreover
idempotent: ``M M = M``. The rule rewrites:

* **idempotence** ``P[i, j] P[j, k] -> P[i, k]``: two occurrences of one
  projector (both plain or both conjugated; never ``inv``) where *every* input
  leg of the first is joined, in group order, to the corresponding output leg
  of the second by an edge that nothing else touches and no free label sits
  on. They become one occurrence with the first's output edges and the
  second's input edges (this is ``M M = M``; conjugating both sides gives it
  for two conjugates). For a *real* projector, M is symmetric, so the first's
  output group or the second's input group may be the joined one instead
  (``P[j, i] P[j, k] = (Mᵀ M)[i, k] = P[i, k]``); this needs each output leg
  to have the dimension of the input leg in the same group position (so that
  Mᵀ is M with its groups swapped leg by leg), which a matrix always has. A
  partially joined group, a joined edge that is a hyperedge or carries a free
  label, a mixed pair ``conj(P) P`` of a complex projector (that is ``Mᵀ M``,
  not ``M M``) and any other structure never fire.
* **Hermitian normalisation** ``conj(P)[j, i] -> P[i, j]``: a conjugated
  occurrence of a *complex* projector or posdef tensor (also under ``inv``:
  the inverse of a Hermitian matrix is Hermitian) becomes the plain
  occurrence with its output and input groups swapped leg by leg
  (``conj(M[o, c]) = M†[c, o] = M[c, o]``). It needs, as above, each output
  leg to have the dimension of the input leg in the same position; otherwise
  the conjugate stays. For real tensors conj is already dropped.

Not done here, because the canonical form (:mod:`diagalg.canonical`) already
does it exactly, for every rule set: permuting the legs of a ``symmetric``
group, the sign of an ``antisymmetric`` group, the symmetry of a *real*
projector or posdef matrix (its two legs are one symmetric class), and the
vanishing of a term with an automorphism that permutes antisymmetric legs
oddly: an antisymmetric tensor with two of its legs on one edge
(``T[i, i] = 0``), or contracted on both legs with a symmetric one
(``S[i, j] T[i, j] = 0``, ``P[i, j] T[i, j] = 0`` for a real projector P) gets
sign 0 and ``collect`` drops it. The block swap of a real *multi-leg*
projector or posdef (``Q[k, l, i, j] = Q[i, j, k, l]``) is not a leg
permutation group, so canonical does not use it and this rule does not orient
it either (there is no canonical choice of a side without the canonical
form); it is used above only to let real projectors be idempotent whichever
groups are joined.

Each idempotence rewrite removes a node and each normalisation removes a
``conj`` (no rule adds one), so the rule terminates.

Inside ``diff(E, P[...])`` the entries of P are independent variables (spec,
section 3), so rewriting occurrences of P there by P's properties changes the
derivative (as ``isometry`` and ``inverse`` would); ``uses_declared_properties``
marks the rule so that the engine can keep it away from them.
"""

from __future__ import annotations

from typing import Iterator, cast

from ..model import Diagram, Node, TensorDecl, TensorOp
from .base import Edit, Site, exclusive_edge, register


def square_by_legs(decl: TensorDecl) -> bool:
    """True when output leg k and input leg k have one dimension for every k
    (the groups can be swapped leg by leg: M's transpose is M with groups swapped)."""
    if len(decl.outputs) != len(decl.inputs) or not decl.outputs:
        return False
    return all(decl.leg_dim(o) == decl.leg_dim(c) for o, c in zip(decl.outputs, decl.inputs))


def _group_edges(node: Node, legs: tuple[str, ...]) -> list[str]:
    ports = node.op.ports
    return [node.edges[ports.index(leg)] for leg in legs]


@register
class SymmetryRule:
    name = "symmetry"
    description = "projectors: P P -> P; Hermitian: conj(P)[j, i] -> P[i, j]"
    default = True  # used by `assert` when no rule is named
    inside_derivative = False  # sound inside a derivative's argument
    on_sums = False
    order = 60  # the engine's sequence (lower first)
    #: True when the rule relies on declared tensor properties (unsound inside diff by that tensor)
    uses_declared_properties = True

    def match(self, diagram: Diagram) -> Iterator[Site]:
        for i, node in enumerate(diagram.nodes):
            op = node.op
            if not isinstance(op, TensorOp) or not op.decl.hermitian:
                continue
            decl = op.decl
            if set(decl.inputs) | set(decl.outputs) != set(decl.legs):
                continue  # not a map between leg groups (the parser never makes one)
            if op.conj and decl.is_complex and square_by_legs(decl):
                yield Site((i,), data=("hermitian",))
            if decl.structure != "projector" or op.inv:
                continue
            # (group of the first joined, group of the second joined); the first
            # pairing is M M, the others use that a real M is symmetric
            pairings = [("in", "out")]
            if not decl.is_complex and square_by_legs(decl):
                pairings += [("out", "out"), ("in", "in")]
            for g1, g2 in pairings:
                legs1 = decl.inputs if g1 == "in" else decl.outputs
                legs2 = decl.outputs if g2 == "out" else decl.inputs
                for j in self._partners(diagram, i, legs1[0]):
                    other = diagram.nodes[j].op
                    if not isinstance(other, TensorOp) or other.decl != decl or other.inv or other.conj != op.conj:
                        continue
                    if g1 == g2 and j < i:
                        continue  # symmetric pairing: found once from the lower node
                    if self._joined(diagram, i, j, legs1, legs2):
                        yield Site((i, j), tuple(_group_edges(node, legs1)), data=("idempotent", g1, g2))

    @staticmethod
    def _partners(diagram: Diagram, i: int, leg: str) -> list[int]:
        node = diagram.nodes[i]
        edge = node.edges[node.op.ports.index(leg)]
        return sorted({n for n, _ in diagram.incidence[edge] if n != i})

    @staticmethod
    def _joined(diagram: Diagram, i: int, j: int, legs1: tuple[str, ...], legs2: tuple[str, ...]) -> bool:
        a, b = diagram.nodes[i], diagram.nodes[j]
        for l1, l2 in zip(legs1, legs2):
            k1, k2 = a.op.ports.index(l1), b.op.ports.index(l2)
            if a.edges[k1] != b.edges[k2] or not exclusive_edge(diagram, a.edges[k1], (i, k1), (j, k2)):
                return False
        return True

    def rewrite(self, diagram: Diagram, site: Site) -> Edit:
        kind = site.data[0]  # type: ignore[index]
        if kind == "hermitian":
            (i,) = site.nodes
            node = diagram.nodes[i]
            op = node.op
            decl = op.decl  # type: ignore[union-attr]
            edge_of = dict(zip(op.ports, node.edges))
            swap = dict(zip(decl.outputs, decl.inputs)) | dict(zip(decl.inputs, decl.outputs))
            new_op = TensorOp(decl, conj=False, inv=op.inv)  # type: ignore[union-attr]
            new = Node(new_op, tuple(edge_of[swap.get(p, p)] for p in new_op.ports))
            return Edit(replace=((i, new),))
        _, g1, g2 = cast("tuple[str, str, str]", site.data)
        i, j = site.nodes
        a, b = diagram.nodes[i], diagram.nodes[j]
        decl = a.op.decl  # type: ignore[union-attr]
        # the first's free group becomes the outputs, the second's the inputs
        outs = _group_edges(a, decl.outputs if g1 == "in" else decl.inputs)
        ins = _group_edges(b, decl.inputs if g2 == "out" else decl.outputs)
        edge_of = dict(zip(decl.outputs, outs)) | dict(zip(decl.inputs, ins))
        new = Node(a.op, tuple(edge_of[p] for p in a.op.ports))
        return Edit(remove=(j,), replace=((i, new),), drop_edges=site.edges)
