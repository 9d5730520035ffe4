"""Scalars (sympy coefficients and dimensions) as .diag text.

Printed text uses only what the language's scalar expressions allow: numbers,
dimension names, ``+ - * / **``, ``sqrt``, ``exp``, ``log`` and ``min``.
"""

from __future__ import annotations

import sympy
from sympy.printing.str import StrPrinter


class _DiagScalarPrinter(StrPrinter):
    def _print_Min(self, expr: sympy.Min) -> str:
        return "min(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Exp1(self, expr: sympy.Expr) -> str:
        return "exp(1)"

    def _print_exp(self, expr: sympy.Expr) -> str:
        return f"exp({self._print(expr.args[0])})"

    def _print_Float(self, expr: sympy.Float) -> str:
        return repr(float(expr))


_PRINTER = _DiagScalarPrinter({"order": "lex"})


def scalar_text(value: sympy.Expr) -> str:
    """``value`` as .diag scalar text that parses back to the same sympy value."""
    return _PRINTER.doprint(sympy.sympify(value))


# --------------------------------------------------------------------------- expressions

import re  # noqa: E402
from functools import lru_cache  # noqa: E402
from typing import Any, Mapping, Sequence  # noqa: E402

from .model import (  # noqa: E402
    FUNC_IN_PREFIX,
    FUNC_OUT_PORT,
    BoxOp,
    BubbleOp,
    CopyTensor,
    DerivOp,
    Diagram,
    Expr,
    IndexOp,
    Node,
    Op,
    ReshapeOp,
    ShiftOp,
    TensorOp,
    Term,
)


@lru_cache(maxsize=1)
def _reserved() -> frozenset[str]:
    """The language's keywords (read from the grammar): a printed name equal to one
    would not parse back as a name, so it gets a suffix."""
    from .vocabulary import grammar_keywords

    return frozenset(grammar_keywords())


def _clean(name: str) -> str:
    base = re.sub(r"[^A-Za-z0-9_']", "", name.split("~")[0]) or "e"
    if not (base[0].isalpha() or base[0] == "_"):
        base = "e" + base
    if base in _reserved():
        base = base + "_"
    return base


def _unique(base: str, taken: set[str]) -> str:
    base = _clean(base)
    if base not in taken:
        taken.add(base)
        return base
    k = 1
    while f"{base}{k}" in taken:
        k += 1
    taken.add(f"{base}{k}")
    return f"{base}{k}"


def _coeff_prefix(c: sympy.Expr) -> tuple[int, str]:
    """(sign, text of |c| as a factor, '' for 1)."""
    c = sympy.sympify(c)
    sign = 1
    if c.could_extract_minus_sign():
        sign, c = -1, -c
    if c == 1:
        return sign, ""
    text = scalar_text(c)
    if isinstance(c, sympy.Add):
        text = f"({text})"
    return sign, text


class Folds:
    """Let definitions to print by name: a node of a printed term that is a ``let``'s
    unfolded definition (a one-node definition such as a softmax pattern, or a
    multi-term definition, which unfolds to a box) prints as ``A1[h, q, k]``. The let is
    declared in the file, so the short form parses back to the same expression.

    ``forms`` maps a node's key (``key(op)``: the canonical key of the node alone, its
    ports free, so that node order and edge names inside do not matter) to (let name,
    the port under each of the let's labels). ``sig(op)`` is a cheap prefilter (kind
    and ports): only nodes whose signature some form has are keyed."""

    def __init__(self, forms: Mapping[Any, tuple[str, tuple[str, ...]]], key: Any, sig: Any) -> None:
        self.forms = dict(forms)
        self.key, self.sig = key, sig
        self.sigs: set[Any] = set()
        self._keys: dict[int, tuple[Any, Op]] = {}

    def add(self, op: Op, name: str, where: tuple[str, ...]) -> None:
        self.sigs.add(self.sig(op))
        self.forms.setdefault(self.key(op), (name, where))

    def match(self, op: Op, labels: Sequence[str]) -> str | None:
        """The folded text of a node with ``op`` whose ports carry ``labels``, or None."""
        if not self.forms or self.sig(op) not in self.sigs:
            return None
        found = self.forms.get(self.key(op))
        if found is None:
            return None
        name, where = found
        ports = dict(zip(op.ports, labels))
        return f"{name}[{', '.join(ports[w] for w in where)}]"


class _TermPrinter:
    def __init__(self, taken: set[str], folds: Folds | None = None) -> None:
        self.taken = taken
        self.folds = folds

    def diagram(self, d: Diagram, names: dict[str, str], label_names: dict[str, str]) -> tuple[str, list[str]]:
        """Factors text for diagram ``d`` whose edges are already named in ``names``
        (free edges); others get fresh names. Returns (text, labels to keep)."""
        names = dict(names)
        for e, _ in d.edge_dims:
            if e not in names:
                names[e] = _unique(e, self.taken)
        # labels whose dimension nothing else in this term fixes are written `label: dim`
        fixed = {
            e for n in d.nodes if isinstance(n.op, TensorOp) or (isinstance(n.op, BoxOp) and n.op.name) for e in n.edges
        }
        same_dim = [n for n in d.nodes if isinstance(n.op, (CopyTensor, ShiftOp))]
        changed = True
        while changed:  # the legs of a delta or shift share one dimension
            changed = False
            for n in same_dim:
                if fixed.intersection(n.edges) and not fixed.issuperset(n.edges):
                    fixed.update(n.edges)
                    changed = True
        saved_needs = getattr(self, "needs", {})
        self.needs = {names[e]: dim for e, dim in d.edge_dims if e not in fixed}
        factors: list[str] = []
        keep: list[str] = []
        selected, hidden = _selections(d)
        for k, node in enumerate(d.nodes):
            if k in hidden:
                continue
            factors.append(self.node(node, names, selected.get(k)))
        inc = d.incidence
        for e, dim in d.edge_dims:
            labels = d.edge_labels[e]
            ports = len(inc[e])
            name = names[e]
            if not labels:
                if ports == 0:
                    factors.append(f"delta[{self.dimmed(name)}, {name}]")
                elif ports == 1:
                    factors.append(f"delta[{self.dimmed(name)}]")
                continue
            uses = ports + (1 if len(labels) > 1 else 0)
            if len(labels) > 1:
                factors.append(
                    "delta[" + ", ".join([self.dimmed(name)] + [label_names.get(l, l) for l in labels[1:]]) + "]"
                )
            elif ports == 0:
                factors.append(f"delta[{self.dimmed(name)}]")
            if uses >= 2:
                keep.append(name)
        self.needs = saved_needs
        return " ".join(factors), keep

    def dimmed_once(self, labels: list[str]) -> list[str]:
        """Labels of one delta/shift (one shared dimension): write it on the first that needs it."""
        out = []
        done = False
        for l in labels:
            if not done and l in self.needs:
                out.append(self.dimmed(l))
                done = True
            else:
                out.append(l)
        if done:
            for l in labels:
                self.needs.pop(l, None)
        return out

    def dimmed(self, name: str) -> str:
        """``name``, with its dimension the first time a label needs one written."""
        dim = self.needs.pop(name, None)
        return name if dim is None else f"{name}: {scalar_text(dim)}"

    def node(self, node: Node, names: dict[str, str], selected: dict[int, int] | None = None) -> str:
        op = node.op
        labels = [names[e] for e in node.edges]
        if selected:
            # W[h=1, a, f]: the onehots on these ports are written as selections
            legs = [f"{p}={selected[k]}" if k in selected else labels[k] for k, p in enumerate(op.ports)]
            return f"{op.name if isinstance(op, BoxOp) else op.text()}[{', '.join(legs)}]"  # type: ignore[union-attr]
        if self.folds is not None and len(set(labels)) == len(labels):
            folded = self.folds.match(op, labels)
            if folded is not None:
                for name in labels:
                    self.needs.pop(name, None)  # the let's declaration fixes its labels' dimensions
                return folded
        extra = ""
        if not isinstance(op, (TensorOp, CopyTensor)) and len(set(labels)) != len(labels):
            # a scope's ports on one edge: name them apart and join them outside
            seen: set[str] = set()
            joins = []
            for k, l in enumerate(labels):
                if l in seen:
                    fresh = _unique(l, self.taken)
                    joins.append(f"delta[{l}, {fresh}]")
                    labels[k] = fresh
                seen.add(l)
            extra = " " + " ".join(joins)
        return self._node(op, labels) + extra

    def _node(self, op: Op, labels: list[str]) -> str:
        if isinstance(op, TensorOp):
            return f"{op.text()}[{', '.join(labels)}]"
        if isinstance(op, CopyTensor):
            return f"delta[{', '.join(self.dimmed_once(labels))}]"
        if isinstance(op, ShiftOp):
            return f"shift({op.offset})[{', '.join(self.dimmed_once(labels))}]"
        if isinstance(op, IndexOp):
            return f"onehot({op.value})[{', '.join(self.dimmed_once(labels))}]"
        if isinstance(op, ReshapeOp):
            parts = [_unique("t", self.taken) for _ in op.part_dims]
            deltas = " ".join(
                f"delta[{self.dimmed(labels[k])}, {p}: {scalar_text(op.part_dims[k])}]" for k, p in enumerate(parts)
            )
            return f"group[({', '.join(parts)}) -> {labels[-1]}]({deltas})"
        port_names = dict(zip(op.ports, labels))
        if isinstance(op, BoxOp):
            if op.name is not None:
                return f"{op.name}[{', '.join(labels)}]"
            return "(" + self.expr(op.inner, port_names) + ")"
        if isinstance(op, BubbleOp):
            inner_names = {l: port_names[l] for l in op.inner.labels if l in port_names}
            for ax in op.axes:
                if ax not in inner_names:
                    inner_names[ax] = _unique(ax, self.taken)
            inner = self.expr(op.inner, inner_names)
            if op.kind in ("inv", "det"):  # of an expression (diagalg.bubbles.matrix)
                from .bubbles.matrix import matrix_text

                return matrix_text(op, inner, inner_names)
            if op.kind == "pow":
                return f"pow({inner}, {scalar_text(op.param)})"
            if op.kind == "func":
                assert op.func is not None  # a func bubble carries its declaration
                order = int(op.param or 0)  # f'[a -> b, c](E): the derivative, one label per prime
                name = op.func.name + "'" * order
                legs = "".join(", " + port_names[f"{FUNC_IN_PREFIX}{k}"] for k in range(order))
                return f"{name}[{inner_names[op.axes[0]]} -> {port_names[FUNC_OUT_PORT]}{legs}]({inner})"
            if op.axes:
                return f"{op.kind}[{', '.join(inner_names[a] for a in op.axes)}]({inner})"
            return f"{op.kind}({inner})"
        if isinstance(op, DerivOp):
            inner_names = {l: port_names[l] for l in op.inner.labels}
            inner = self.expr(op.inner, inner_names)
            wrt = [port_names[f"@d{k}"] for k in range(len(op.wrt.ports))]
            return f"diff({inner}, {op.wrt.text()}[{', '.join(wrt)}])"
        raise TypeError(f"cannot print {op!r}")

    def term(self, t: Term, label_names: dict[str, str]) -> tuple[int, str]:
        d = t.diagram
        names: dict[str, str] = {}
        for label, e in d.free:
            names.setdefault(e, label_names.get(label, label))
        body, keep = self.diagram(d, names, label_names)
        sign, coeff = _coeff_prefix(t.coeff)
        if keep:
            body = f"keep[{', '.join(keep)}]({body})"
        if not body:
            return sign, coeff or "1"
        if coeff:
            return sign, f"{coeff} * {body}"
        return sign, body

    def expr(self, e: Expr, label_names: dict[str, str]) -> str:
        if not e.terms:
            return "zero[" + ", ".join(f"{label_names.get(l, l)}: {scalar_text(d)}" for l, d in e.free) + "]"
        out = []
        saved = set(self.taken)
        used = set(saved)
        for k, t in enumerate(e.terms):
            # summands of one sum may reuse a summed label (each term sums its own), but
            # a sibling sum after this one must not: distributed, the label would join
            # both sums' legs in one hyperedge. So every name used here stays taken.
            self.taken = set(saved)
            sign, text = self.term(t, label_names)
            used |= self.taken
            tag = f"{t.tags[-1]}: " if t.tags and len(e.terms) > 1 else ""
            if k == 0:
                out.append(f"{tag}{'-' if sign < 0 else ''}{text}")
            else:
                if tag:
                    out.append(f" + {tag}{'-' if sign < 0 else ''}{text}")
                else:
                    out.append(f" {'-' if sign < 0 else '+'} {text}")
        self.taken = used
        return "".join(out)


def _selectable(op: Op) -> bool:
    """A node that takes a selection in source: a declared tensor or a folded let."""
    return isinstance(op, TensorOp) or (isinstance(op, BoxOp) and op.name is not None)


def _selections(d: Diagram) -> tuple[dict[int, dict[int, int]], set[int]]:
    """The onehots of ``d`` that print as selections ``W[h=1, a, f]``: a onehot on a
    summed edge whose every other end is a port of a declared tensor or of a folded let
    (the form parses back to the same contraction, one onehot per port, which is equal:
    e_v[h] A[h] B[h] summed over h is A[v] B[v]). Returns the value at each such (node,
    port), and the onehot nodes that are then not printed."""
    selected: dict[int, dict[int, int]] = {}
    hidden: set[int] = set()
    inc = d.incidence
    for k, node in enumerate(d.nodes):
        if not isinstance(node.op, IndexOp):
            continue
        edge = node.edges[0]
        if d.edge_labels[edge]:
            continue
        others = [(j, port) for j, port in inc[edge] if j != k]
        if not others or len(others) != len(inc[edge]) - 1 or not all(_selectable(d.nodes[j].op) for j, _ in others):
            continue
        hidden.add(k)
        for j, port in others:
            selected.setdefault(j, {})[port] = node.op.value
    return selected, hidden


def expr_text(expr: Expr, folds: Folds | None = None) -> str:
    """``expr`` as .diag text; parsing it back (with the same declarations, and the lets
    of ``folds`` when given) gives an equal expression."""
    taken = set(expr.labels)
    return _TermPrinter(taken, folds).expr(expr, {l: l for l in expr.labels})


def derivation_lines(derivation: Any) -> list[str]:
    """A derivation (``engine.Derivation``, not imported: the engine imports this module)
    as `diagalg simplify --trace` prints it: the start, then
    ``= expr  by rule[, N sites][ [check err]]`` per step."""
    states = derivation.states()
    texts = [expr_text(e) for e, _ in states]
    width = min(max(len(t) for t in texts), 70)
    out = [f"    {texts[0]}"]
    for text, (_, step) in zip(texts[1:], states[1:]):
        if step is None:
            why = "by collect"
        else:
            sites = f", {step.sites} sites" if step.sites > 1 else ""
            check = (
                ""
                if step.check_error is None
                else " [check exact]"
                if step.check_exact
                else f" [check {step.check_error:.1g}]"
            )
            why = f"by {step.rule}{sites}{check}"
        out.append(f"  = {text:<{width}}  {why}")
    return out
