"""`cost E`: the contraction order, FLOPs and peak memory of an expression, symbolic in
its dimensions, with other orders compared.

A diagram is costed as opt_einsum costs an einsum: copy tensors (and shifts, which
numeric evaluation turns into slicing) become shared indices, and every pairwise (or
single-operand) contraction of a path costs ``size(indices involved) × factor`` with
factor ``max(1, operands − 1)``, plus one when an index is summed away (a
multiply-add is two FLOPs). The order is chosen by opt_einsum at *representative
sizes* (concrete dimensions as declared, symbolic ones large, constrained ones
smaller); the FLOPs of that order are then a symbolic expression in the dimensions,
and :func:`cost_report` checks it against opt_einsum's own count at those sizes.

Parenthesised sums and bubbles are evaluated first and their cost added (a sum of k
terms adds k − 1 additions of its size; a bubble one operation per entry); those
extras are reported separately from the contraction FLOPs, which is what opt_einsum
counts.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import opt_einsum
import sympy

from .dims import DimEnv
from .model import BoxOp, BubbleOp, CopyTensor, Diagram, Expr, IndexOp, Op, ShiftOp, TensorOp
from .numeric.errors import format_count
from .printing import scalar_text

SYMBOLIC_SIZE = 1000  # representative size of a symbolic dimension with no constraint
ALL_ORDERS_UP_TO = 3  # list every contraction order for networks this small
OPTIMAL_UP_TO = 10  # opt_einsum's exhaustive search up to this many operands


class CostError(ValueError):
    """The expression has a part the cost model does not cover (named in the message)."""


@dataclass(frozen=True)
class Step:
    text: str
    flops: sympy.Expr
    size: sympy.Expr


@dataclass
class Plan:
    """A contraction order: its steps, total FLOPs and largest intermediate (symbolic)."""

    order: str
    steps: list[Step]
    flops: sympy.Expr
    largest: sympy.Expr
    path: list[tuple[int, ...]] = field(default_factory=list)
    #: opt_einsum's own (FLOPs, largest intermediate) for this path, where it chose it
    counted: tuple[int, int] | None = None


@dataclass
class Network:
    """A diagram as einsum operands: each operand's text and index names, the output."""

    names: list[str]
    indices: list[list[str]]
    output: list[str]
    dims: dict[str, sympy.Expr]
    nested_flops: sympy.Expr = sympy.Integer(0)  # contractions inside sums and bubbles
    extra_flops: sympy.Expr = sympy.Integer(0)  # additions and elementwise work
    nested: list[str] = field(default_factory=list)  # report lines of those inner contractions
    nested_largest: sympy.Expr = sympy.Integer(0)
    agrees: bool = True


@dataclass
class CostReport:
    detail: str
    lines: list[str]
    agrees: bool
    flops: sympy.Expr = sympy.Integer(0)
    extra: sympy.Expr = sympy.Integer(0)
    largest: sympy.Expr = sympy.Integer(0)


def representative_sizes(
    env: DimEnv, symbols: Sequence[sympy.Symbol], dims: Mapping[str, int] | None = None
) -> dict[sympy.Symbol, int]:
    """Sizes to choose an order at: concrete dimensions as declared, symbolic ones
    ``SYMBOLIC_SIZE`` (a tenth of their bound when constrained by ``<=``/``<``),
    ``--dims`` overrides, derived dimensions computed."""
    subs = env.concrete_subs()
    vals: dict[sympy.Symbol, int] = {}
    for s in symbols:
        v = sympy.sympify(subs.get(s, s))
        if v.is_Integer:
            vals[s] = int(v)
    given = {env.symbols[n]: int(v) for n, v in (dims or {}).items() if n in env.symbols}
    free = [s for s in env.symbols.values() if s not in env.concrete and s not in env.derived]
    for s in free:
        vals[s] = given.get(s, SYMBOLIC_SIZE)
    for _ in range(3):
        for c in env.constraints:
            if c.lhs in free and c.lhs not in given and c.op in ("<=", "<"):
                bound = sympy.sympify(c.rhs).subs(subs).subs(vals)
                if bound.is_number:
                    vals[c.lhs] = max(1, min(vals[c.lhs], int(bound) // 10 or 1))
    vals.update({s: int(v) for s, v in given.items()})
    for s, e in env.derived.items():
        v = sympy.sympify(e).subs(subs).subs(vals)
        if v.is_number:
            vals[s] = int(v)
    return vals


def _op_text(op: Op) -> str:
    if isinstance(op, TensorOp):
        t = op.decl.name
        for _ in range(op.inv):
            t = f"inv({t})"
        return f"conj({t})" if op.conj else t
    if isinstance(op, BoxOp):
        return op.name or "(sum)"
    if isinstance(op, BubbleOp):
        return f"{op.kind}(…)"
    if isinstance(op, IndexOp):
        return f"onehot({op.value})"
    return type(op).__name__


def network(diagram: Diagram, env: DimEnv, sizes: Mapping[sympy.Symbol, int] | None = None) -> Network:
    """The einsum operands of a diagram; nested sums and bubbles are costed first (at
    ``sizes``, the representative sizes, when given)."""
    parent: dict[str, str] = {}

    def find(e: str) -> str:
        while parent.get(e, e) != e:
            e = parent[e]
        return e

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    for n in diagram.nodes:
        if isinstance(n.op, (CopyTensor, ShiftOp)):
            for e in n.edges[1:]:
                union(n.edges[0], e)
    names: list[str] = []
    indices: list[list[str]] = []
    extra, nested_flops, nested, agrees = sympy.Integer(0), sympy.Integer(0), [], True
    nested_largest = sympy.Integer(0)
    for n in diagram.nodes:
        op = n.op
        if isinstance(op, (CopyTensor, ShiftOp)):
            continue
        if not isinstance(op, (TensorOp, BoxOp, BubbleOp, IndexOp)):
            raise CostError(
                f"cost does not model {type(op).__name__.replace('Op', '').lower()} nodes "
                "(group/split or diff): simplify or expand it first"
            )
        if isinstance(op, (BoxOp, BubbleOp)) and sizes is not None:
            inner = term_reports(op.inner, env, sizes)
            nested_flops += inner.flops
            if inner.largest != 0:
                nested_largest = inner.largest if nested_largest == 0 else sympy.Max(nested_largest, inner.largest)
            extra += inner.extra
            agrees = agrees and inner.agrees
            nested.append(f"inside {_op_text(op)}:")
            nested.extend("  " + line for line in inner.lines)
            if isinstance(op, BubbleOp):
                extra += _expr_size(op.inner)
        label = [find(e) for e in n.edges]
        text = _op_text(op)
        names.append(f"{text}[{', '.join(e.split('~')[0] for e in n.edges)}]")
        indices.append(label)
    dims = {find(e): d for e, d in diagram.edge_dims}
    output = [find(e) for _, e in diagram.free]
    used = {i for ix in indices for i in ix}
    for i in dict.fromkeys(output):
        if i not in used:  # a free leg of a copy tensor alone: an all-ones operand
            names.append(f"1[{i.split('~')[0]}]")
            indices.append([i])
    return Network(
        names,
        indices,
        output,
        dims,
        nested_flops=nested_flops,
        extra_flops=extra,
        nested=nested,
        agrees=agrees,
        nested_largest=nested_largest,
    )


def _expr_size(e: Expr) -> sympy.Expr:
    return sympy.Mul(*[d for _, d in e.free]) if e.free else sympy.Integer(1)


def _symbols(net: Network) -> list[str]:
    return [opt_einsum.get_symbol(k) for k in range(len(net.dims))]


def _equation(net: Network) -> tuple[str, dict[str, str]]:
    letter = {i: s for i, s in zip(sorted(net.dims), _symbols(net))}
    eq = (
        ",".join("".join(letter[i] for i in ix) for ix in net.indices)
        + "->"
        + "".join(letter[i] for i in dict.fromkeys(net.output))
    )
    return eq, letter


def _shapes(net: Network, sizes: Mapping[sympy.Symbol, int]) -> list[tuple[int, ...]]:
    def size(i: str) -> int:
        return int(sympy.sympify(net.dims[i]).subs(sizes))

    return [tuple(size(i) for i in ix) for ix in net.indices]


def plan_of(net: Network, path: Sequence[tuple[int, ...]]) -> Plan:
    """The symbolic FLOPs of contracting ``net`` along ``path`` (opt_einsum's linear path
    format: the operands at these positions are replaced by their result, appended)."""
    ops = [(name, list(ix)) for name, ix in zip(net.names, net.indices)]
    out = list(dict.fromkeys(net.output))
    steps: list[Step] = []
    total = sympy.Integer(0)
    largest = sympy.Integer(0)
    for pos in path:
        chosen = [ops[p] for p in sorted(pos)]
        rest = [ops[p] for p in range(len(ops)) if p not in pos]
        involved = list(dict.fromkeys(i for _, ix in chosen for i in ix))
        remaining = {i for _, ix in rest for i in ix} | set(out)
        kept = [i for i in involved if i in remaining]
        removed = [i for i in involved if i not in remaining]
        factor = max(1, len(chosen) - 1) + (1 if removed else 0)
        flops = factor * sympy.Mul(*[net.dims[i] for i in involved])
        size = sympy.Mul(*[net.dims[i] for i in kept])
        name = " ".join(n for n, _ in chosen)
        text = name if len(chosen) == 1 else f"({name})"
        steps.append(Step(f"{name} -> [{', '.join(i.split('~')[0] for i in kept)}]", flops, size))
        total += flops
        largest = size if largest == 0 else sympy.Max(largest, size)
        for p in sorted(pos, reverse=True):
            ops.pop(p)
        ops.append((text, kept))
    order = ops[0][0] if ops else "1"
    if order.startswith("(") and order.endswith(")") and len(path) > 0:
        order = order[1:-1]
    return Plan(order, steps, sympy.expand(total), largest, list(path))


def best_plan(net: Network, sizes: Mapping[sympy.Symbol, int]) -> Plan:
    """opt_einsum's order for ``net`` at ``sizes`` (exhaustive up to OPTIMAL_UP_TO operands)."""
    if not net.indices:
        return Plan("1", [], sympy.Integer(0), sympy.Integer(0), [])
    eq, _ = _equation(net)
    strategy = "optimal" if len(net.indices) <= OPTIMAL_UP_TO else "auto"
    path, info = opt_einsum.contract_path(eq, *_shapes(net, sizes), shapes=True, optimize=strategy)
    plan = plan_of(net, path)
    plan.counted = (int(info.opt_cost), int(info.largest_intermediate))
    return plan


def _all_paths(n: int) -> list[list[tuple[int, ...]]]:
    if n <= 1:
        return [[(0,)]] if n == 1 else [[]]
    out: list[list[tuple[int, ...]]] = []
    for a, b in itertools.combinations(range(n), 2):
        for rest in _all_paths(n - 1) if n > 2 else [[]]:
            out.append([(a, b)] + rest)
    return out


def _value(e: sympy.Expr, sizes: Mapping[sympy.Symbol, int]) -> int:
    return int(sympy.sympify(e).subs(sizes))


def term_reports(expr: Expr, env: DimEnv, sizes: Mapping[sympy.Symbol, int]) -> CostReport:
    """Per term: the chosen order with its steps, the other orders compared, nested sums
    and bubbles; totals, and whether every figure matches opt_einsum's count at ``sizes``."""
    shown = ", ".join(f"{k}={v}" for k, v in sorted((str(k), v) for k, v in sizes.items() if _mentions(expr, k)))
    lines: list[str] = []
    total, extra, agrees = sympy.Integer(0), sympy.Integer(0), True
    largest_all = sympy.Integer(0)
    for k, t in enumerate(expr.terms, start=1):
        net = network(t.diagram, env, sizes)
        plan = best_plan(net, sizes)
        agrees = agrees and net.agrees
        if plan.counted is not None and plan.counted != (_value(plan.flops, sizes), _value(plan.largest, sizes)):
            agrees = False
        lines.extend(net.nested)
        head = f"term {k}: " if len(expr.terms) > 1 else ""
        lines.append(f"{head}order {plan.order}: {scalar_text(plan.flops)} flops")
        for st in plan.steps:
            lines.append(f"  {st.text}: {scalar_text(st.flops)}")
        alternatives = _alternatives(net, sizes, plan)
        if len(alternatives) > 1:
            lines.append(f"  orders compared at {shown}:")
            best = _value(plan.flops, sizes) or 1
            for alt in alternatives:
                v = _value(alt.flops, sizes)
                ratio = f" ({v / best:.3g}x)" if alt.order != plan.order else " (chosen)"
                lines.append(f"    {alt.order}: {scalar_text(alt.flops)} = {format_count(v)}{ratio}")
        total += plan.flops + net.nested_flops
        extra += net.extra_flops
        for big in (plan.largest, net.nested_largest):
            if big != 0:
                largest_all = big if largest_all == 0 else sympy.Max(largest_all, big)
    if len(expr.terms) > 1:
        extra += (len(expr.terms) - 1) * _expr_size(expr)
    return CostReport("", lines, agrees, sympy.expand(total), sympy.expand(extra), largest_all)


def has_written_order(expr: Expr) -> bool:
    """True when ``expr`` holds a parenthesised product kept as written: an unnamed box
    of one term (what lowering makes of ``(A[i, j] B[j, k])`` for ``cost``; ordinary
    lowering and :func:`diagalg.engine.unfold` inline such boxes)."""
    from .model import walk_nodes

    return any(isinstance(n.op, BoxOp) and n.op.name is None and len(n.op.inner.terms) == 1 for n in walk_nodes(expr))


def cost_report(expr: Expr, env: DimEnv, dims: Mapping[str, int] | None = None) -> CostReport:
    """The `cost` statement's result (see :func:`term_reports`) with a one-line summary.

    When ``expr`` keeps parenthesised products as written (:func:`has_written_order`),
    the chosen order is that of the expression with them (and its lets) unfolded, and
    one more line prices the order as written: each parenthesised product (and each
    let) contracted on its own first, in its best order, then the rest; with its ratio
    to the chosen order's contraction FLOPs at the representative sizes."""
    syms = sorted(env.symbols.values(), key=str)
    sizes = representative_sizes(env, syms, dims)
    written = expr if has_written_order(expr) else None
    if written is not None:
        from .engine import unfold

        expr = unfold(expr)
    rep = term_reports(expr, env, sizes)
    if written is not None:
        rep.lines.append(_written_line(written, env, sizes, rep))
    shown = ", ".join(f"{s}={sizes[s]}" for s in syms if s in sizes and _mentions(expr, s))
    detail = f"[{scalar_text(rep.flops)} flops in contractions"
    if rep.extra != 0:
        detail += f" + {scalar_text(rep.extra)} elementwise and additions"
    detail += f" = {format_count(_value(rep.flops + rep.extra, sizes))} at {shown}" if shown else ""
    if rep.largest != 0:
        big = _value(rep.largest, sizes)
        detail += (
            f"; largest intermediate {scalar_text(_simplest(rep.largest, sizes))} "
            f"({format_count(big)} entries, {_bytes(8 * big)} at float64)"
        )
    detail += "; agrees with opt_einsum]" if rep.agrees else "; DISAGREES with opt_einsum's count]"
    rep.detail = detail
    return rep


def _written_line(written: Expr, env: DimEnv, sizes: Mapping[sympy.Symbol, int], chosen: CostReport) -> str:
    """The report line of the order as written (see :func:`cost_report`)."""
    from .printing import expr_text

    text = " ".join(expr_text(written).split())
    try:
        rep = term_reports(written, env, sizes)
    except CostError as e:
        return f"as written {text}: not costed ({e})"
    got, best = _value(rep.flops, sizes), _value(chosen.flops, sizes)
    ratio = f"{got / best:.3g}x the chosen order" if best else "the chosen order has no contraction"
    return f"as written {text}: {scalar_text(rep.flops)} flops = {format_count(got)} ({ratio})"


def _mentions(expr: Expr, s: sympy.Symbol) -> bool:
    from .model import dim_symbols_in

    return s in dim_symbols_in(expr)


def _simplest(e: sympy.Expr, sizes: Mapping[sympy.Symbol, int]) -> sympy.Expr:
    """Of a Max(...), the argument that is largest at ``sizes``."""
    if isinstance(e, sympy.Max):
        return max(e.args, key=lambda a: _value(_simplest(a, sizes), sizes))
    return e


def _bytes(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} B"


def _alternatives(net: Network, sizes: Mapping[sympy.Symbol, int], chosen: Plan) -> list[Plan]:
    """Every order for three operands; otherwise the chosen one, opt_einsum's greedy
    order, and left-to-right and right-to-left association as written."""
    n = len(net.indices)
    if n < 3:
        return [chosen]
    if n <= ALL_ORDERS_UP_TO:
        plans = [plan_of(net, p) for p in _all_paths(n)]
    else:
        eq, _ = _equation(net)
        greedy, _ = opt_einsum.contract_path(eq, *_shapes(net, sizes), shapes=True, optimize="greedy")
        left = [(0, 1)] + [(0, n - 1 - k) for k in range(1, n - 1)]
        right = [(n - 2 - k, n - 1 - k) for k in range(n - 1)]
        plans = [chosen, plan_of(net, greedy), plan_of(net, left), plan_of(net, right)]
    seen: dict[str, Plan] = {}
    for p in [chosen] + plans:
        seen.setdefault(p.order, p)
    return sorted(seen.values(), key=lambda p: _value(p.flops, sizes))
