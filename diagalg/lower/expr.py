"""Expression lowering: syntax tree of one statement's expressions -> model expressions.

Two stages. Stage A walks the syntax tree, resolves names (a name is a dimension,
a tensor, a let or a function), checks leg counts and records every label's
dimension statement-wide (binding one label to legs of different dimensions is an
error); it yields the intermediate form of :mod:`diagalg.lower.ir`. Stage B builds
diagrams with einsum's label convention: within one product term a label used once
is free and a label used two or more times is summed (three or more uses make a
hyperedge). A parenthesised sum is flattened into its product as einsum would
after distributing it (it becomes a box node whose ports are the labels it shares
with the rest of the product); bubbles, ``keep``, ``group``/``split``, ``diff`` and
``let`` bodies are scopes: only their result's free labels connect outward.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Callable, Iterable, Sequence

import sympy

from .. import ast as A
from ..bubbles import get_bubble
from ..conjugate import NotConjugable, conjugate
from ..model import (
    FUNC_IN_PREFIX,
    FUNC_OUT_PORT,
    BoxOp,
    BubbleOp,
    CopyTensor,
    DerivOp,
    Diagram,
    Expr,
    FuncDecl,
    IndexOp,
    Node,
    Op,
    ShiftOp,
    TensorOp,
    Term,
    fresh_name,
    inline_diagram,
    resolve_merges,
    tensor_op,
)
from ..program import LetDef, Program
from .ir import IAtom, IProd, IScopedAtom, ISum, ISummand, exposed_uses
from .matrix import let_inverse, matrix_call
from .reshape import ReshapeLowering
from .scalars import declared_names, did_you_mean, dim_expr, error_at, try_scalar
from .select import has_selection, reject_selection, select_atom


class Scope(ReshapeLowering):
    """Lowers the expressions of one statement in ``program``'s declarations: labels
    and their dimensions are statement-wide, and every summand tag is recorded in
    ``tags`` (a tag names one summand: using it twice is an error)."""

    def __init__(self, program: Program, tags: set[str], keep_products: bool = False) -> None:
        self.program = program
        #: keep a parenthesised product of two or more factors as a one-term unnamed box
        #: (``cost``'s order as written) instead of inlining it
        self.keep_products = keep_products
        self.env = program.env
        self.tags = tags
        self.label_dims: dict[str, sympy.Expr] = {}
        self.label_first: dict[str, A.Pos] = {}
        self.pending_groups: list[tuple[str, list[str], A.Pos]] = []
        self.same_dim: list[list[str]] = []  # legs of one delta/shift share a dimension
        self.order: list[str] = []

    # ------------------------------------------------------------------ label dims
    def see_label(self, label: str, pos: A.Pos, dim: sympy.Expr | None) -> None:
        if label not in self.label_first:
            self.label_first[label] = pos
            self.order.append(label)
        if dim is None:
            return
        old = self.label_dims.get(label)
        if old is None:
            self.label_dims[label] = dim
        elif not self.env.same_dim(old, dim):
            from ..printing import scalar_text

            raise error_at(
                f"label '{label}' has dimension {scalar_text(old)} elsewhere but {scalar_text(dim)} here", pos
            )

    def dim_of(self, label: str) -> sympy.Expr:
        d = self.label_dims.get(label)
        if d is None:
            raise error_at(
                f"cannot infer the dimension of label '{label}' (write {label}: n where it is bound)",
                self.label_first.get(label, A.NOWHERE),
            )
        return d

    def resolve_groups(self) -> None:
        """Infer dimensions of labels bound only to deltas, shifts and groups."""
        changed = True
        while changed:
            changed = False
            for labels in self.same_dim:
                known = [self.label_dims[l] for l in labels if l in self.label_dims]
                if known:
                    for l in labels:
                        if l not in self.label_dims:
                            self.label_dims[l] = known[0]
                            changed = True
            for new, parts, pos in self.pending_groups:
                if new not in self.label_dims and all(p in self.label_dims for p in parts):
                    self.see_label(new, pos, sympy.Mul(*[self.label_dims[p] for p in parts]))
                    changed = True

    def first_seen_order(self, labels: Iterable[str]) -> list[str]:
        labels = set(labels)
        return [l for l in self.order if l in labels]

    # ------------------------------------------------------------------ entry points
    def lower_top(
        self, node: A.Node, outputs: list[str] | None = None, output_pos: dict[str, A.Pos] | None = None
    ) -> Expr:
        """``node`` as a model expression. With ``outputs`` (a let's listed labels) those
        labels are free, in that order, and every other label is summed."""
        ir = self.stage_a(node)
        self.resolve_groups()
        if outputs is not None:
            used = set(self.order)
            for l in outputs:
                if l not in used:
                    raise error_at(
                        f"label '{l}' is listed but not used by the expression", (output_pos or {}).get(l, node.pos)
                    )
        return self.close_sum(ir, node.pos, outputs=outputs)

    def lower_pair(self, lhs: A.Node, rhs: A.Node) -> tuple[Expr, Expr]:
        """Both sides of an equation or a rule (see :meth:`lower_many`)."""
        a, b = self.lower_many([lhs, rhs])
        return a, b

    def lower_many(self, nodes: list[A.Node]) -> list[Expr]:
        """Expressions meant to be equal, lowered together: a label is one label with
        one dimension across them, and all must have the same free labels."""
        irs = [self.stage_a(n) for n in nodes]
        self.resolve_groups()
        exprs = [self.close_sum(ir, n.pos) for ir, n in zip(irs, nodes)]
        first = exprs[0]
        for e, n in zip(exprs[1:], nodes[1:]):
            if set(e.labels) != set(first.labels):
                only_l = sorted(set(first.labels) - set(e.labels))
                only_r = sorted(set(e.labels) - set(first.labels))
                parts = []
                if only_l:
                    parts.append(f"{', '.join(only_l)} only on the left")
                if only_r:
                    parts.append(f"{', '.join(only_r)} only on the right")
                raise error_at("the two sides have different free labels: " + "; ".join(parts), n.pos)
        return exprs

    # ------------------------------------------------------------------ stage A
    def stage_a(self, node: A.Node) -> ISum:
        """Lower an expression to a sum of products (the sum may have one summand)."""
        if isinstance(node, A.Sum):
            tags = self.tags
            summands = []
            for item in node.items:
                if item.tag is not None:
                    if item.tag in tags:
                        raise error_at(
                            f"summand tag '{item.tag}' is already used in this file", item.tag_pos or item.pos
                        )
                    tags.add(item.tag)
                summands.append(ISummand(item.pos, item.sign, item.tag, self.product(item.expr)))
            return ISum(node.pos, summands)
        return ISum(node.pos, [ISummand(node.pos, 1, None, self.product(node))])

    def product(self, node: A.Node) -> IProd:
        prod = IProd(node.pos)
        self.add_factor(prod, node, "")
        return prod

    def add_factor(self, prod: IProd, node: A.Node, op: str) -> None:
        scalar = try_scalar(self.program, node)
        if scalar is not None:
            if op == "/":
                if scalar == 0:
                    raise error_at("division by zero", node.pos)
                prod.coeff = prod.coeff / scalar
            else:
                prod.coeff = prod.coeff * scalar
            return
        if op == "/":
            raise error_at("can only divide by a scalar (numbers and dimensions)", node.pos)
        if isinstance(node, A.Product):
            for f in node.factors:
                if (
                    self.keep_products
                    and isinstance(f.expr, A.Product)
                    and f.op != "/"
                    and try_scalar(self.program, f.expr) is None
                ):
                    # a parenthesised product (juxtaposition nests only through parentheses)
                    prod.atoms.append(ISum(f.expr.pos, [ISummand(f.expr.pos, 1, None, self.product(f.expr))]))
                    continue
                self.add_factor(prod, f.expr, f.op)
            return
        if isinstance(node, A.Sum):
            s = self.stage_a(node)
            if len(s.summands) == 1 and s.summands[0].tag is None:
                inner = s.summands[0].prod
                prod.coeff *= s.summands[0].sign * inner.coeff
                prod.atoms.extend(inner.atoms)
            else:
                prod.atoms.append(s)
            return
        prod.atoms.append(self.atom(node))

    # ------------------------------------------------------------------ atoms
    def bind_args(
        self,
        owner: str,
        legs: tuple[str, ...],
        dims: tuple[sympy.Expr, ...],
        args: tuple[A.Arg, ...] | None,
        pos: A.Pos,
    ) -> tuple[list[str], list[A.Pos]]:
        """Labels for each leg (in ``legs`` order); records label dimensions."""
        reject_selection(args, owner)
        if args is None:
            labels = list(legs)
            poss = [pos] * len(legs)
        else:
            named = [a for a in args if a.leg is not None]
            if named and len(named) != len(args):
                raise error_at("bind all legs by name or none", args[0].pos)
            if len(args) != len(legs):
                were = "were" if len(args) != 1 else "was"
                raise error_at(
                    f"{owner} has {len(legs)} leg{'s' if len(legs) != 1 else ''} "
                    f"({', '.join(legs) or 'none'}) but {len(args)} {were} bound",
                    args[0].pos if args else pos,
                )
            if named:
                by_leg: dict[str, A.Arg] = {}
                for a in args:
                    if a.leg not in legs:
                        raise error_at(f"{owner} has no leg '{a.leg}'", a.pos)
                    if a.leg in by_leg:
                        raise error_at(f"leg '{a.leg}' bound twice", a.pos)
                    by_leg[a.leg] = a
                ordered = [by_leg[l] for l in legs]
            else:
                ordered = list(args)
            labels = [a.label for a in ordered]
            poss = [a.pos for a in ordered]
            for a, d in zip(ordered, dims):
                if a.dim is not None:
                    given = dim_expr(self.program, a.dim)
                    if not self.env.same_dim(given, d):
                        from ..printing import scalar_text

                        raise error_at(
                            f"label '{a.label}' is written with dimension {scalar_text(given)} "
                            f"but binds a leg of dimension {scalar_text(d)}",
                            a.pos,
                        )
        for l, p, d in zip(labels, poss, dims):
            self.see_label(l, p, d)
        return labels, poss

    def free_args(self, args: tuple[A.Arg, ...]) -> tuple[list[str], list[A.Pos]]:
        """Labels of delta/zero/shift: dimensions from annotations or the rest of the statement."""
        labels, poss = [], []
        reject_selection(args, "this built-in")
        for a in args:
            if a.leg is not None:
                raise error_at("this tensor has no named legs", a.pos)
            d = dim_expr(self.program, a.dim) if a.dim is not None else None
            self.see_label(a.label, a.pos, d)
            labels.append(a.label)
            poss.append(a.pos)
        return labels, poss

    def onehot(self, node: A.OneHot) -> "IAtom":
        """``onehot(v)[i]``: e_v on the label i, whose dimension comes from the rest of the
        statement (like a delta's). Contracted with a summed label it selects one value
        of it (one head); v must be at least 0 and below a concrete dimension."""
        labels, _ = self.free_args(node.args)
        if len(labels) != 1:
            raise error_at(f"onehot(v) has 1 leg but {len(labels)} were bound", node.pos)
        if node.value < 0:
            raise error_at(f"onehot({node.value}): the value is an index from 0", node.pos)
        value = node.value

        def build(labels: Sequence[str] = labels, pos: A.Pos = node.pos) -> IndexOp:
            dim = self.dim_of(labels[0])
            size = sympy.sympify(dim).xreplace(self.env.concrete_subs())
            if size.is_Integer and value >= int(size):
                raise error_at(
                    f"onehot({value}) is outside '{labels[0]}', of dimension {size} (values 0 to {int(size) - 1})", pos
                )
            return IndexOp(value, dim)

        return IAtom(node.pos, labels, build)

    def resolve_target(self, t: A.Target) -> tuple[str, object]:
        name = t.name
        if name in self.program.tensors:
            decl = self.program.tensors[name]
            conj = t.wrappers.count("conj") % 2 == 1
            inv = t.wrappers.count("inv")
            if inv and not decl.invertible:
                raise error_at(
                    f"inv({name}): '{name}' is not declared invertible, unitary or posdef "
                    f"(or write inv({name}[i, j]) for the inverse of the expression)",
                    t.pos,
                )
            return "tensor", tensor_op(decl, conj, inv)
        if name in self.program.lets:
            if "inv" in t.wrappers:
                raise error_at(f"inv(...) applies to declared invertible tensors, not to the let '{name}'", t.pos)
            let = self.program.lets[name]
            if t.wrappers.count("conj") % 2 == 0:
                return "let", let
            try:
                return "let", replace(let, name=f"conj({name})", expr=conjugate(let.expr, name))
            except NotConjugable as e:
                raise error_at(str(e), t.pos) from None
        if name in self.program.funcs:
            raise error_at(f"'{name}' is a function: apply it as {name}[a -> b](E)", t.pos)
        if name in self.env.symbols:
            raise error_at(f"'{name}' is a dimension, not a tensor", t.pos)
        raise error_at(f"undeclared name '{name}'{did_you_mean(name, declared_names(self.program))}", t.pos)

    def atom(self, node: A.Node) -> IAtom | IScopedAtom:
        if isinstance(node, A.MatrixCall):
            return matrix_call(self, node)
        if isinstance(node, A.Bind) and "inv" in node.target.wrappers and node.target.name in self.program.lets:
            return let_inverse(self, node, self.program.lets[node.target.name])
        if isinstance(node, A.Name):
            return self.bind_target(A.Target(node.pos, node.name), None, node.pos)
        if isinstance(node, A.Bind):
            if has_selection(node.args):
                return select_atom(self, node)  # W[h=1, a, f]: W contracted with onehot(1) on h
            return self.bind_target(node.target, node.args, node.pos)
        if isinstance(node, A.Delta):
            return self.delta_atom(node)
        if isinstance(node, A.Zero):
            labels, poss = self.free_args(node.args)
            if len(set(labels)) != len(labels):
                raise error_at("zero[...] takes distinct labels", node.pos)
            return IScopedAtom(node.pos, labels, lambda: (self.zero_expr(labels), None))
        if isinstance(node, A.Shift):
            labels, poss = self.free_args(node.args)
            if len(labels) != 2:
                raise error_at(f"shift(o) has 2 legs but {len(labels)} were bound", node.pos)
            self.same_dim.append(labels)
            offset = node.offset

            def build(labels: list[str] = labels, pos: A.Pos = node.pos) -> ShiftOp:
                d0, d1 = self.dim_of(labels[0]), self.dim_of(labels[1])
                if not self.env.same_dim(d0, d1):
                    raise error_at("shift(o)'s two legs must have one dimension", pos)
                return ShiftOp(offset, d0)

            return IAtom(node.pos, labels, build)
        if isinstance(node, A.OneHot):
            return self.onehot(node)
        if isinstance(node, A.Call):
            return self.bubble_call(node)
        if isinstance(node, A.AxisCall):
            return self.axis_bubble(node)
        if isinstance(node, A.FuncApp):
            return self.func_app(node)
        if isinstance(node, A.Keep):
            return self.keep(node)
        if isinstance(node, A.Group):
            return self.group(node)
        if isinstance(node, A.Split):
            return self.split(node)
        if isinstance(node, A.Diff):
            return self.diff(node)
        if isinstance(node, (A.Power, A.Neg)):
            raise error_at("`**` applies to scalars; use pow(E, k) for an elementwise power", node.pos)
        raise error_at("unexpected expression here", node.pos)

    def bind_target(self, target: A.Target, args: tuple[A.Arg, ...] | None, pos: A.Pos) -> IAtom:
        kind, obj = self.resolve_target(target)
        if kind == "tensor":
            op: TensorOp = obj  # type: ignore[assignment]
            ports = op.ports
            labels, poss = self.bind_args(op.text(), ports, tuple(op.port_dim(p) for p in ports), args, pos)
            return IAtom(pos, labels, lambda: op)
        let: LetDef = obj  # type: ignore[assignment]
        dims = tuple(let.expr.free_dims[l] for l in let.labels)
        labels, poss = self.bind_args(f"'{let.name}'", let.labels, dims, args, pos)
        return IAtom(pos, labels, lambda: BoxOp(let.expr, let.labels, let.name))

    def delta_atom(self, node: A.Delta) -> IAtom:
        labels, poss = self.free_args(node.args)
        if not labels:
            raise error_at("delta[...] needs at least one label", node.pos)
        self.same_dim.append(labels)

        def build(labels: list[str] = labels, pos: A.Pos = node.pos) -> CopyTensor:
            d0 = self.dim_of(labels[0])
            for l in labels[1:]:
                if not self.env.same_dim(self.dim_of(l), d0):
                    raise error_at("all legs of delta[...] must have one dimension", pos)
            return CopyTensor(d0, len(labels))

        return IAtom(node.pos, labels, build)

    def zero_expr(self, labels: list[str]) -> Expr:
        return Expr.of([], {l: self.dim_of(l) for l in labels})

    def bubble_call(self, node: A.Call) -> IScopedAtom:
        fn = node.fn
        if fn in ("sqrt", "min"):
            raise error_at(f"{fn}(...) takes scalars (numbers and dimensions)", node.pos)
        arg = node.args[0]
        ir = self.stage_a(arg)
        param = None
        if fn == "pow":
            param = try_scalar(self.program, node.args[1])
            if param is None:
                raise error_at("pow's exponent must be a scalar", node.args[1].pos)
        labels = self.predict_free(ir)

        def make(
            ir: ISum = ir, fn: str = fn, param: sympy.Expr | None = param, pos: A.Pos = arg.pos
        ) -> tuple[Expr, Callable[[Expr], Op]]:
            inner = self.close_sum(ir, pos)
            return inner, (lambda inner: BubbleOp(fn, inner, (), param))

        return IScopedAtom(node.pos, labels, make)

    def axis_bubble(self, node: A.AxisCall) -> IScopedAtom:
        ir = self.stage_a(node.arg)
        axes = tuple(l.name for l in node.labels)
        spec = get_bubble(node.fn)  # how many labels it takes, and whether it drops them
        need = spec.axes
        if len(axes) != need:
            raise error_at(f"{node.fn}[...] takes {need} label{'s' if need > 1 else ''}", node.pos)
        if len(set(axes)) != len(axes):
            raise error_at(f"{node.fn}[...] takes distinct labels", node.pos)
        labels = self.predict_free(ir)
        for ref in node.labels:
            if ref.name not in labels:
                raise error_at(f"{node.fn}[{ref.name}]: label '{ref.name}' is not free in its argument", ref.pos)
        if spec.drops_axes:
            labels = [l for l in labels if l not in axes]

        def make(
            ir: ISum = ir, fn: str = node.fn, axes: tuple[str, ...] = axes, pos: A.Pos = node.arg.pos
        ) -> tuple[Expr, Callable[[Expr], Op]]:
            inner = self.close_sum(ir, pos)
            if fn == "causal" and not self.env.same_dim(inner.free_dims[axes[0]], inner.free_dims[axes[1]]):
                raise error_at("causal[q, k]: q and k must have one dimension", node.pos)
            return inner, (lambda inner: BubbleOp(fn, inner, axes))

        return IScopedAtom(node.pos, labels, make)

    def func_app(self, node: A.FuncApp) -> IScopedAtom:
        f, order = self.program.funcs.get(node.fname), 0
        base = node.fname.rstrip("'")
        if f is None and base != node.fname and base in self.program.funcs:
            f, order = self.program.funcs[base], len(node.fname) - len(base)  # f'': f's 2nd derivative
        if f is not None and len(node.dlegs) != order:
            raise error_at(
                f"{node.fname}[a -> b{', c' * order}] takes {order} derivative label"
                f"{'s' if order != 1 else ''} after the output label (one per prime)",
                node.pos,
            )
        if f is None:
            if node.fname in self.program.tensors or node.fname in self.program.lets:
                raise error_at(f"'{node.fname}' is not a function (declare it with `func`)", node.pos)
            raise error_at(
                f"undeclared function '{node.fname}'{did_you_mean(node.fname, self.program.funcs)}", node.pos
            )
        ir = self.stage_a(node.arg)
        labels = self.predict_free(ir)
        if node.src.name not in labels:
            raise error_at(
                f"{node.fname}[{node.src.name} -> ...]: label '{node.src.name}' is not free in its argument",
                node.src.pos,
            )
        if node.dst.name in labels and node.dst.name != node.src.name:
            raise error_at(f"label '{node.dst.name}' is already free in the argument", node.dst.pos)
        dlegs = [d.name for d in node.dlegs]
        for k, d in enumerate(node.dlegs):
            if (d.name in labels and d.name != node.src.name) or d.name in [node.dst.name] + dlegs[:k]:
                raise error_at(
                    f"derivative label '{d.name}' must be new (not free in the argument, "
                    f"not the output label, not repeated)",
                    d.pos,
                )
        self.see_label(node.src.name, node.src.pos, f.in_dim)
        out_labels = [l for l in labels if l != node.src.name] + [node.dst.name] + dlegs
        param = sympy.Integer(order) if order else None

        def make(
            ir: ISum = ir, f: FuncDecl = f, src: str = node.src.name, pos: A.Pos = node.arg.pos
        ) -> tuple[Expr, Callable[[Expr], Op]]:
            inner = self.close_sum(ir, pos)
            return inner, (lambda inner: BubbleOp("func", inner, (src,), param, f))

        # the output label's (and derivative labels') dimensions belong to the outer statement
        atom = IScopedAtom(node.pos, out_labels, make, deriv_labels=dlegs, func_out=node.dst.name)
        self.see_label(node.dst.name, node.dst.pos, f.out_dim)
        for d in node.dlegs:
            self.see_label(d.name, d.pos, f.in_dim)
        return atom

    def keep(self, node: A.Keep) -> IScopedAtom:
        ir = self.stage_a(node.arg)
        kept = [l.name for l in node.labels]
        if len(set(kept)) != len(kept):
            raise error_at("keep[...] lists a label twice", node.pos)
        mentioned = set()
        for s in ir.summands:
            mentioned |= set(s.prod.mentioned())
        for ref in node.labels:
            if ref.name not in mentioned:
                raise error_at(f"keep[{ref.name}]: label '{ref.name}' is not used in its argument", ref.pos)
        labels = self.predict_free(ir, forced=set(kept))

        def make(ir: ISum = ir, kept: list[str] = kept, pos: A.Pos = node.arg.pos) -> tuple[Expr, None]:
            return self.close_sum(ir, pos, forced=set(kept)), None

        return IScopedAtom(node.pos, labels, make)

    def diff(self, node: A.Diff) -> IScopedAtom:
        ir = self.stage_a(node.arg)
        labels = self.predict_free(ir)
        t = node.wrt.target
        if t.wrappers:
            raise error_at("diff(E, X[...]) differentiates by a declared tensor, not inv/conj of one", t.pos)
        if t.name not in self.program.tensors:
            if t.name in self.program.lets:
                raise error_at(f"diff by '{t.name}': differentiate by a declared tensor, not a let", t.pos)
            raise error_at(f"undeclared name '{t.name}'{did_you_mean(t.name, self.program.tensors)}", t.pos)
        op = tensor_op(self.program.tensors[t.name])
        wrt_labels, poss = self.bind_args(
            op.text(), op.ports, tuple(op.port_dim(p) for p in op.ports), node.wrt.args, node.wrt.pos
        )
        mentioned = set()
        for s in ir.summands:
            mentioned |= set(s.prod.mentioned())
        for l, p in zip(wrt_labels, poss):
            if l in mentioned:
                raise error_at(f"diff: label '{l}' must be new (it is used in the expression)", p)
        if len(set(wrt_labels)) != len(wrt_labels):
            raise error_at("diff: the derivative's labels must be distinct", node.wrt.pos)

        def make(ir: ISum = ir, op: TensorOp = op, pos: A.Pos = node.arg.pos) -> tuple[Expr, Callable[[Expr], Op]]:
            inner = self.close_sum(ir, pos)
            return inner, (lambda inner: DerivOp(inner, op))

        return IScopedAtom(node.pos, labels + wrt_labels, make, deriv_labels=wrt_labels)

    # ------------------------------------------------------------------ free-label prediction
    def predict_free(self, ir: ISum, forced: set[str] | None = None) -> list[str]:
        """The free labels a closed sum will have (checked again when it is built)."""
        forced = forced or set()
        counts: Counter = Counter()
        for own in exposed_uses(ir.summands[0].prod, Counter(), forced):
            counts.update(own)
        return [l for l in self.order_of(counts) if counts[l] == 1 or l in forced]

    def order_of(self, counts: Counter) -> list[str]:
        return [l for l in self.order if l in counts] + sorted(l for l in counts if l not in self.label_first)

    # ------------------------------------------------------------------ stage B: closing
    def close_sum(self, ir: ISum, pos: A.Pos, outputs: list[str] | None = None, forced: set[str] | None = None) -> Expr:
        """A top-level (scope) sum: each summand closed with nothing outside."""
        forced = set(forced or ())
        summed_unlisted = outputs is not None
        if outputs is not None:
            forced |= set(outputs)
        terms: list[Term] = []
        free_sets: list[tuple[set[str], A.Pos]] = []
        for s in ir.summands:
            coeff, diagram = self.close_product(s.prod, Counter(), forced, summed_unlisted)
            tags = (s.tag,) if s.tag else ()
            terms.append(Term(coeff * s.sign, diagram, tags))
            free_sets.append((set(diagram.labels), s.pos))
        self.check_same_free(free_sets)
        if outputs is not None:
            for l in outputs:
                for t in terms:
                    if l not in t.diagram.labels:
                        raise error_at(f"label '{l}' is listed but not used by every summand", pos)
        free = {l: self.dim_of(l) for l in (free_sets[0][0] if free_sets else ())}
        return Expr.of(terms, free)

    def check_same_free(self, free_sets: list[tuple[set[str], A.Pos]]) -> None:
        if not free_sets:
            return
        first, _ = free_sets[0]
        for labels, p in free_sets[1:]:
            if labels != first:
                missing = sorted(first - labels)
                extra = sorted(labels - first)
                parts = []
                if extra:
                    parts.append(f"{', '.join(extra)} free here but not in the first summand")
                if missing:
                    parts.append(f"{', '.join(missing)} free in the first summand but not here")
                raise error_at("summands have different free labels: " + "; ".join(parts), p)

    def close_product(
        self, prod: IProd, outside: Counter, forced: set[str], summed_unlisted: bool = False
    ) -> tuple[sympy.Expr, Diagram]:
        """Build the diagram of one product term.

        ``outside`` counts uses of labels outside this product (in an enclosing
        product that flattens it); such labels stay open as boundary labels.
        """
        atom_uses = exposed_uses(prod, outside, forced)
        uses: Counter = Counter()
        for own in atom_uses:
            uses.update(own)

        coeff = prod.coeff
        nodes: list[Node] = []
        label_edge: dict[str, str] = {}
        dims: dict[str, sympy.Expr] = {}
        merges: list[tuple[str, str]] = []
        used_names: set[str] = set(uses) | set(outside) | set(forced)
        for l in uses:
            label_edge[l] = l
            dims[l] = self.dim_of(l)

        for a, own in zip(prod.atoms, atom_uses):
            if isinstance(a, IAtom):
                op = a.build()
                nodes.append(Node(op, tuple(a.labels)))
            elif isinstance(a, IScopedAtom):
                inner, make_op = a.make()
                port_labels = self._port_labels(a)
                if not inner.terms:
                    coeff = sympy.Integer(0)
                elif make_op is None:
                    # keep/group/split/zero: transparent scopes, inlined like a single-summand box
                    coeff, sub_nodes = self._inline_or_box(inner, port_labels, coeff, dims, merges, used_names, a.pos)
                    nodes.extend(sub_nodes)
                else:
                    op = make_op(inner)
                    missing = [p for p in op.ports if p not in port_labels]
                    if missing:
                        raise error_at(f"internal: unexpected free label '{missing[0]}' in this argument", a.pos)
                    nodes.append(Node(op, tuple(port_labels[p] for p in op.ports)))
            else:
                # a parenthesised sum: flattened (einsum after distribution)
                rest = uses - own
                sub_outside = outside + rest
                inner, port_list = self.close_box(a, sub_outside, forced)
                if not inner.terms:
                    coeff = sympy.Integer(0)
                    continue
                if (
                    self.keep_products
                    and len(inner.terms) == 1
                    and sum(not isinstance(n.op, CopyTensor) for n in inner.terms[0].diagram.nodes) >= 2
                ):
                    ports = tuple(inner.labels)
                    nodes.append(Node(BoxOp(inner, ports), ports))
                    continue
                coeff, sub_nodes = self._inline_or_box(
                    inner, {l: l for l in port_list}, coeff, dims, merges, used_names, a.pos
                )
                nodes.extend(sub_nodes)

        # label status
        free: dict[str, str] = {}
        for l in uses:
            if outside[l] > 0 or l in forced:
                free[l] = l
            elif uses[l] == 1 and not summed_unlisted:
                free[l] = l
        diagram = Diagram.build(nodes, dims, free)
        if merges:
            diagram = diagram.rename_edges(resolve_merges(merges))
        return coeff, diagram

    @staticmethod
    def _port_labels(a: IScopedAtom) -> dict[str, str]:
        """The label bound to each port of the op ``a`` makes."""
        out = {l: l for l in a.labels}
        prefix = FUNC_IN_PREFIX if a.func_out is not None else "@d"  # f'[a -> b, c]: c is port @in0
        for i, l in enumerate(a.deriv_labels):
            out[f"{prefix}{i}"] = l
        if a.func_out is not None:
            out[FUNC_OUT_PORT] = a.func_out
        return out

    def _inline_or_box(
        self,
        inner: Expr,
        port_labels: dict[str, str],
        coeff: sympy.Expr,
        dims: dict[str, sympy.Expr],
        merges: list[tuple[str, str]],
        used_names: set[str],
        pos: A.Pos,
    ) -> tuple[sympy.Expr, list[Node]]:
        """A single-term inner expression is inlined into the product; a sum stays a box."""
        if len(inner.terms) == 1:
            t = inner.terms[0]
            outer = Diagram.build((), dims, {})
            sub_nodes, new_dims, sub_merges = inline_diagram(
                outer, {l: port_labels[l] for l in t.diagram.labels}, t.diagram, used_names
            )
            dims.update(new_dims)
            merges.extend(sub_merges)
            return coeff * t.coeff, sub_nodes
        ports = tuple(inner.labels)
        return coeff, [Node(BoxOp(inner, ports), tuple(port_labels[p] for p in ports))]

    def close_box(self, a: ISum, outside: Counter, forced: set[str]) -> tuple[Expr, list[str]]:
        """Close each summand of a flattened sum; its ports are the labels it shares outward."""
        terms: list[Term] = []
        own_free: list[tuple[set[str], A.Pos]] = []
        port_set: set[str] = set()
        for s in a.summands:
            coeff, d = self.close_product(s.prod, outside, forced)
            terms.append(Term(coeff * s.sign, d, (s.tag,) if s.tag else ()))
            port_set |= set(d.labels)
            own_free.append(({l for l in d.labels if outside[l] == 0 and l not in forced}, s.pos))
        self.check_same_free(own_free)
        # a label used exactly once outside must be used by every summand, or after
        # distributing it would be free in some terms and summed in others
        for l in sorted(port_set):
            if outside[l] == 1 and l not in forced:
                users = [l in t.diagram.labels for t in terms]
                if not all(users):
                    s = a.summands[users.index(False)]
                    raise error_at(
                        f"label '{l}' is used once outside this sum but not in every summand: after "
                        f"distributing, it would be free in some terms and summed in others",
                        s.pos,
                    )
        # every term must expose every port: a summand that does not use a shared
        # label gets it as an untouched edge (all-ones, harmless on a contracted label)
        fixed: list[Term] = []
        for t in terms:
            d = t.diagram
            missing = port_set - set(d.labels)
            if missing:
                dims = dict(d.dims)
                free = dict(d.free_map)
                used = set(dims) | set(free)
                for l in missing:
                    e = fresh_name(l, used)
                    dims[e] = self.dim_of(l)
                    free[l] = e
                d = Diagram.build(d.nodes, dims, free)
            fixed.append(Term(t.coeff, d, t.tags))
        ports = sorted(port_set)
        return Expr.of(fixed, {l: self.dim_of(l) for l in ports}), ports
