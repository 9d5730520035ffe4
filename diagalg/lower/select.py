"""Selection of one value of a leg: ``W[h=1, a, f]``.

``W[h=1, a, f]`` is the slice of W at h = 1: W with its leg h contracted with
``onehot(1)`` and the other legs bound to ``a, f``, so the result no longer has
the leg. The promise is that a selection *is* that contraction and nothing else:
it lowers to a tensor node and an :class:`~diagalg.model.IndexOp` node sharing a
summed edge, exactly what ``W[g, a, f] onehot(1)[g]`` lowers to, so every rule,
both numeric paths, ``expand``/``paths``, drawing and export see a construct
they already know.

The name before ``=`` names the leg it fixes (a number after ``=`` selects, a
name binds by leg name: the two cannot be confused). The other legs are bound as
usual, in declared order or all by name, or, when only selections are written
(``W[h=1]``), to their own leg names as a bare ``W`` is. The summed edge is private to the
binding (renamed on inlining), so it never meets a label of the same name
elsewhere in the statement; its value must lie inside a concrete dimension.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import sympy

from .. import ast as A
from ..model import BoxOp, Diagram, Expr, IndexOp, Node, Op, TensorOp, Term
from ..program import LetDef
from .ir import IScopedAtom
from .scalars import error_at

if TYPE_CHECKING:
    from ..dims import DimEnv


def has_selection(args: tuple[A.Arg, ...] | None) -> bool:
    """True when a binding's arguments select a value of some leg (``h=1``)."""
    return args is not None and any(a.value is not None for a in args)


def reject_selection(args: tuple[A.Arg, ...] | None, what: str) -> None:
    """A static error at the first selection in ``args``, where ``what`` cannot take one."""
    for a in args or ():
        if a.value is not None:
            raise error_at(
                f"{what} cannot select a value of a leg ({a.label}={a.value}): select on a "
                "declared tensor or a let, or use onehot(v)[i]",
                a.pos,
            )


class SelectingScope(Protocol):
    """What a selection needs of the lowering scope (:class:`~diagalg.lower.expr.Scope` is
    one): named by its methods so this module does not import the scope's module back."""

    env: DimEnv

    def resolve_target(self, t: A.Target) -> tuple[str, object]: ...

    def bind_args(
        self,
        owner: str,
        legs: tuple[str, ...],
        dims: tuple[sympy.Expr, ...],
        args: tuple[A.Arg, ...] | None,
        pos: A.Pos,
    ) -> tuple[list[str], list[A.Pos]]: ...

    def dim_of(self, label: str) -> sympy.Expr: ...


def select_atom(scope: SelectingScope, node: A.Bind) -> IScopedAtom:
    """``T[h=v, ...]`` as a transparent scope (inlined into its product) whose free
    labels are the labels bound to T's unselected legs, repeated as written so
    that einsum's convention (traces, hyperedges) applies to them unchanged."""
    assert node.args is not None
    kind, obj = scope.resolve_target(node.target)
    op: Op
    if kind == "tensor":
        assert isinstance(obj, TensorOp)
        op, owner = obj, obj.text()
        legs = tuple(obj.ports)
        leg_dims = {p: obj.port_dim(p) for p in legs}
    else:
        assert isinstance(obj, LetDef)
        let = obj
        op, owner = BoxOp(let.expr, let.labels, let.name), f"'{let.name}'"
        legs = tuple(let.labels)
        leg_dims = {p: let.expr.free_dims[p] for p in legs}

    selected: dict[str, int] = {}
    for a in node.args:
        if a.value is None:
            continue
        if a.label not in legs:
            raise error_at(f"{owner} has no leg '{a.label}' to select (its legs: {', '.join(legs) or 'none'})", a.pos)
        if a.label in selected:
            raise error_at(f"leg '{a.label}' selected twice", a.pos)
        vpos = a.value_pos or a.pos
        if a.value < 0:
            raise error_at(f"{a.label}={a.value}: a selected value is an index from 0", vpos)
        size = sympy.sympify(leg_dims[a.label]).xreplace(scope.env.concrete_subs())
        if size.is_Integer and a.value >= int(size):
            raise error_at(
                f"{a.label}={a.value} is outside leg '{a.label}' of {owner}, of dimension {size} "
                f"(values 0 to {int(size) - 1})",
                vpos,
            )
        selected[a.label] = a.value

    rest_legs = tuple(l for l in legs if l not in selected)
    rest_args = tuple(a for a in node.args if a.value is None)
    labels: list[str] = []
    if rest_legs or rest_args:
        # only selections written (`W[h=1]`): the other legs are bound to their own names,
        # as a bare `W` is
        labels, _ = scope.bind_args(
            f"{owner} (with {', '.join(selected)} selected)",
            rest_legs,
            tuple(leg_dims[l] for l in rest_legs),
            rest_args or None,
            node.pos,
        )
    bound = dict(zip(rest_legs, labels))

    def make() -> tuple[Expr, None]:
        dims: dict[str, sympy.Expr] = {l: scope.dim_of(l) for l in labels}
        used = set(dims)
        nodes: list[Node] = []
        edges: list[str] = []
        for leg in legs:
            if leg in bound:
                edges.append(bound[leg])
                continue
            edge = _private(leg, used)
            dims[edge] = leg_dims[leg]
            edges.append(edge)
            nodes.append(Node(IndexOp(selected[leg], leg_dims[leg]), (edge,)))
        diagram = Diagram.build([Node(op, tuple(edges))] + nodes, dims, {l: l for l in dict.fromkeys(labels)})
        free_dims = {l: dims[l] for l in dict.fromkeys(labels)}
        return Expr.of([Term(sympy.Integer(1), diagram)], free_dims), None

    return IScopedAtom(node.pos, labels, make)


def _private(leg: str, used: set[str]) -> str:
    """A name for a selected leg's summed edge that no label bound here uses (the
    inliner renames it again if the enclosing product has it)."""
    name = leg
    k = 0
    while name in used:
        k += 1
        name = f"{leg}~{k}"
    used.add(name)
    return name
