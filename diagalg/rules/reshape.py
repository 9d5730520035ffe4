"""``reshape``: reshaping tensors that meet on their wholes or on all their parts cancel.

A reshape node (``group`` / ``split``) with part dimensions ``(d_1, ..., d_k)``
is ``R[p_1, ..., p_k, w] = [w == rowmajor(p)]``, and ``rowmajor`` is a
bijection between part tuples and ``0 .. d_1···d_k - 1``. The rule rewrites:

* **wholes** r >= 1 reshape nodes with *equal* part dimensions whose ``whole``
  ports are the only ports on one edge, which carries no free label: the nodes
  go, the edge goes, and for each t the t-th part edges of all r nodes are
  merged. Sound: ``sum_w prod_s R_s[p^s, w] = [rowmajor(p^1) = ... =
  rowmajor(p^r)] = prod_t [p^1_t = ... = p^r_t]`` (a copy tensor per part; for
  r = 1 the sum is 1: the parts are left to the all-ones vector). With r = 2
  this is "``split`` undoes ``group``" and "contracting two grouped labels is
  contracting their parts, pairwise in order".
* **parts** r >= 1 reshape nodes with equal part dimensions such that, for every
  t, the t-th part ports of all r nodes are the only ports on one edge
  ``e_t`` (no free label; so the ``e_t`` are distinct and none is a whole edge):
  the nodes go, the ``e_t`` go, and the r whole edges are merged. Sound:
  ``sum_p prod_s R_s[p, w_s] = [w_1 = ... = w_r]`` since every whole index
  comes from exactly one part tuple. With r = 2 this is "``group`` undoes
  ``split``"; after ``delta`` has fused copy tensors into hyperedges it is
  "grouped identities and copy tensors stay identities and copy tensors"
  (``kron(eye(n), eye(m)) = eye(n m)``); r = 1 is "grouped ones are ones".

Part dimensions must be equal as expressions, position by position: two
reshapes of one whole size with different (or permuted) part dimensions are
a permutation of the whole index, not the identity, and never fire; nor do
parts joined in a different order, a joined edge that another port or a free
label also uses, or a part edge shared with a whole. Every rewrite removes a
node, so the rule terminates.
"""

from __future__ import annotations

from typing import Iterator

from ..model import Diagram, ReshapeOp
from .base import Edit, Site, register


@register
class ReshapeRule:
    name = "reshape"
    description = "split undoes group; grouped labels contract part by part; grouped identities stay identities"
    default = True  # used by `assert` when no rule is named
    inside_derivative = True  # sound inside a derivative's argument
    on_sums = False
    order = 70  # the engine's sequence (lower first)
    #: True when the rule relies on declared tensor properties (unsound inside diff by that tensor)
    uses_declared_properties = False

    def match(self, diagram: Diagram) -> Iterator[Site]:
        nodes = diagram.nodes
        # wholes: an unlabelled edge touched only by whole ports of reshapes with equal part dims
        for edge, inc in diagram.incidence.items():
            if not inc or diagram.edge_labels[edge]:
                continue
            ops = [nodes[n].op for n, _ in inc]
            first = ops[0]
            if not isinstance(first, ReshapeOp):
                continue
            whole = len(first.part_dims)
            if all(
                isinstance(op, ReshapeOp) and op.part_dims == first.part_dims and port == whole
                for op, (_, port) in zip(ops, inc)
            ):
                yield Site(tuple(sorted(n for n, _ in inc)), (edge,), data=("wholes",))
        # parts: part t of every node of the group on one exclusive edge, for every t
        for i, node in enumerate(nodes):
            op = node.op
            if not isinstance(op, ReshapeOp) or not op.part_dims:
                continue
            inc0 = diagram.incidence[node.edges[0]]
            group = sorted(n for n, _ in inc0)
            if group[0] != i or len(set(group)) != len(group):
                continue  # found from the lowest node; a node twice on e_0 is not a match
            if not all(isinstance(other := nodes[n].op, ReshapeOp) and other.part_dims == op.part_dims for n in group):
                continue
            edges = []
            for t in range(len(op.part_dims)):
                e = node.edges[t]
                want = {(n, t) for n in group}
                inc = diagram.incidence[e]
                if diagram.edge_labels[e] or len(inc) != len(want) or set(inc) != want:
                    break
                edges.append(e)
            else:
                yield Site(tuple(group), tuple(edges), data=("parts",))

    def rewrite(self, diagram: Diagram, site: Site) -> Edit:
        nodes = [diagram.nodes[n] for n in site.nodes]
        if site.data[0] == "wholes":  # type: ignore[index]
            k = len(nodes[0].op.part_dims)  # type: ignore[union-attr]
            merge = tuple((n.edges[t], nodes[0].edges[t]) for n in nodes[1:] for t in range(k))
            return Edit(remove=site.nodes, merge=merge, drop_edges=site.edges)
        merge = tuple((n.edges[-1], nodes[0].edges[-1]) for n in nodes[1:])
        return Edit(remove=site.nodes, merge=merge, drop_edges=site.edges)
