"""Lowering of ``group[...]`` and ``split[...]``: the reshape of a bundle of labels into
one and back, as a reshape node on every term of the argument.

A part of :class:`~diagalg.lower.expr.Scope` kept in its own module (the scope's
module would be over the project's size limit otherwise); the few scope methods it
calls are declared here so the type checker sees them, and the scope provides them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sympy

from .. import ast as A
from ..model import Diagram, Expr, Node, ReshapeOp, Term, fresh_name
from .ir import IScopedAtom, ISum
from .scalars import dim_expr, error_at

if TYPE_CHECKING:
    from ..dims import DimEnv
    from ..program import Program


class ReshapeLowering:
    """``group`` and ``split`` for the lowering scope (a mixin of
    :class:`~diagalg.lower.expr.Scope`, which provides the methods declared below)."""

    env: DimEnv
    program: Program
    pending_groups: list[tuple[str, list[str], A.Pos]]

    def stage_a(self, node: A.Node) -> ISum:
        raise NotImplementedError  # provided by Scope

    def predict_free(self, ir: ISum, forced: set[str] | None = None) -> list[str]:
        raise NotImplementedError  # provided by Scope

    def see_label(self, label: str, pos: A.Pos, dim: sympy.Expr | None) -> None:
        raise NotImplementedError  # provided by Scope

    def close_sum(self, ir: ISum, pos: A.Pos, outputs: list[str] | None = None, forced: set[str] | None = None) -> Expr:
        raise NotImplementedError  # provided by Scope

    def dim_of(self, label: str) -> sympy.Expr:
        raise NotImplementedError  # provided by Scope

    def group(self, node: A.Group) -> IScopedAtom:
        ir = self.stage_a(node.arg)
        labels = self.predict_free(ir)
        parts = [p.name for p in node.parts]
        if len(set(parts)) != len(parts):
            raise error_at("group[...] lists a label twice", node.pos)
        for p in node.parts:
            if p.name not in labels:
                raise error_at(f"group: label '{p.name}' is not free in its argument", p.pos)
        new = node.new.name
        if new in labels and new not in parts:
            raise error_at(f"group: label '{new}' is already free in the argument", node.new.pos)
        self.pending_groups.append((new, parts, node.new.pos))
        self.see_label(new, node.new.pos, None)
        out_labels = [l for l in labels if l not in parts] + [new]

        def make(
            ir: ISum = ir, parts: list[str] = parts, new: str = new, pos: A.Pos = node.arg.pos
        ) -> tuple[Expr, None]:
            inner = self.close_sum(ir, pos)
            return self.reshaped(inner, parts, new, self.dim_of(new), grouping=True), None

        return IScopedAtom(node.pos, out_labels, make)

    def split(self, node: A.Split) -> IScopedAtom:
        ir = self.stage_a(node.arg)
        labels = self.predict_free(ir)
        whole = node.label.name
        if whole not in labels:
            raise error_at(f"split: label '{whole}' is not free in its argument", node.label.pos)
        parts = [p.label for p in node.parts]
        if len(set(parts)) != len(parts):
            raise error_at("split lists a label twice", node.pos)
        for p in node.parts:
            if p.label in labels and p.label != whole:
                raise error_at(f"split: label '{p.label}' is already free in the argument", p.pos)
            self.see_label(p.label, p.pos, dim_expr(self.program, p.dim))
        out_labels = [l for l in labels if l != whole] + parts

        def make(
            ir: ISum = ir, parts: list[str] = parts, whole: str = whole, pos: A.Pos = node.arg.pos
        ) -> tuple[Expr, None]:
            inner = self.close_sum(ir, pos)
            want = sympy.Mul(*[self.dim_of(p) for p in parts])
            if not self.env.same_dim(inner.free_dims[whole], want):
                from ..printing import scalar_text

                raise error_at(
                    f"split: |{whole}| = {scalar_text(inner.free_dims[whole])} is not "
                    f"{' * '.join(scalar_text(self.dim_of(p)) for p in parts)}",
                    node.pos,
                )
            return self.reshaped(inner, parts, whole, inner.free_dims[whole], grouping=False), None

        return IScopedAtom(node.pos, out_labels, make)

    def reshaped(self, inner: Expr, parts: list[str], whole: str, whole_dim: sympy.Expr, grouping: bool) -> Expr:
        """Attach a reshape node to every term: group consumes ``parts`` and makes
        ``whole``; split consumes ``whole`` and makes ``parts``."""
        part_dims = tuple(self.dim_of(p) for p in parts)
        op = ReshapeOp(part_dims)
        terms = []
        for t in inner.terms:
            d = t.diagram
            used = set(d.dims) | set(d.labels)
            free = dict(d.free_map)
            dims = dict(d.dims)
            if grouping:
                part_edges = [free.pop(p) for p in parts]
                new_edge = fresh_name(whole, used)
                dims[new_edge] = whole_dim
                free[whole] = new_edge
                node = Node(op, tuple(part_edges) + (new_edge,))
            else:
                whole_edge = free.pop(whole)
                part_edges = []
                for p in parts:
                    e = fresh_name(p, used)
                    dims[e] = self.dim_of(p)
                    free[p] = e
                    part_edges.append(e)
                node = Node(op, tuple(part_edges) + (whole_edge,))
            terms.append(Term(t.coeff, Diagram.build(d.nodes + (node,), dims, free), t.tags))
        free_dims = {l: dd for l, dd in inner.free_dims.items() if l not in (parts if grouping else [whole])}
        if grouping:
            free_dims[whole] = whole_dim
        else:
            for p in parts:
                free_dims[p] = self.dim_of(p)
        return Expr.of(terms, free_dims)
