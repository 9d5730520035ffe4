"""Symbolic derivatives from Python: ``derivative(expr, "x")`` is ``diff(expr, x[...])``
simplified with the ``derivative`` rule and the clean-up rules.

Example::

    import diagalg
    from diagalg.derivative import derivative

    prog = diagalg.parse("dim n\\ntensor x[i: n]\\ntensor A[i: n, j: n]")
    grad = derivative(prog.expr("x[i] A[i, j] x[j]"), "x", ["k"], program=prog)
    print(diagalg.to_text(grad))      # A[k, j] x[j] + x[i] A[i, k]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from .model import DerivOp, Diagram, Expr, Node, TensorOp, tensor_decls_in, tensor_op
from .rules import derivative as _rule  # noqa: F401  (registers the rule)

if TYPE_CHECKING:
    from .program import Program

#: The rules a derivative is simplified with.
DERIVATIVE_RULES = ("derivative", "delta", "distribute", "collect", "isometry", "inverse")


def diff_node(expr: Expr, wrt: TensorOp, labels: Sequence[str]) -> Expr:
    """The unsimplified ``diff(expr, wrt[labels])``: one derivative node whose free labels
    are ``expr``'s labels plus ``labels`` (one per leg of ``wrt``, in its port order)."""
    labels = tuple(labels)
    if len(labels) != len(wrt.ports):
        raise ValueError(f"{wrt.text()} has {len(wrt.ports)} legs; got {len(labels)} derivative labels")
    if len(set(labels)) != len(labels) or set(labels) & set(expr.labels):
        raise ValueError(f"derivative labels {list(labels)} must be distinct and new to {list(expr.labels)}")
    op = DerivOp(expr, wrt)
    edges = expr.labels + labels
    dims = {l: op.port_dim(p) for l, p in zip(edges, op.ports)}
    return Expr.single(Diagram.build((Node(op, edges),), dims, {l: l for l in edges}))


def _fresh_labels(wrt: TensorOp, taken: set[str]) -> tuple[str, ...]:
    out = []
    for leg in wrt.ports:
        name = leg
        while name in taken:
            name += "'"
        taken.add(name)
        out.append(name)
    return tuple(out)


def _resolve(expr: Expr, wrt: TensorOp | str, program: Program | None) -> TensorOp:
    if isinstance(wrt, TensorOp):
        if wrt.inv or wrt.conj:
            raise ValueError("differentiate by a declared tensor, not inv/conj of one")
        return wrt
    if program is not None and wrt in program.tensors:
        return tensor_op(program.tensors[wrt])
    decls = tensor_decls_in(expr)
    if wrt in decls:
        return tensor_op(decls[wrt])
    raise ValueError(f"unknown tensor '{wrt}'" + ("" if program is not None else " (pass program=)"))


def derivative(
    expr: Expr, wrt: TensorOp | str, labels: Sequence[str] | None = None, program: Program | None = None
) -> Expr:
    """∂expr/∂wrt, simplified (rules :data:`DERIVATIVE_RULES`, ``let``s unfolded).

    ``wrt``: a declared tensor's name (looked up in ``program``, else among the
    tensors ``expr`` uses) or a :class:`TensorOp`. ``labels``: the result's new
    free labels, one per leg of ``wrt``; by default the leg names, primed until
    they are new to ``expr``. The result's free labels are ``expr``'s plus these.
    Where the rule cannot differentiate (a user function or ``layernorm`` around
    ``wrt``) the result keeps a ``diff`` node.
    """
    from .engine import simplify

    op = _resolve(expr, wrt, program)
    if labels is None:
        labels = _fresh_labels(op, set(expr.labels))
    node = diff_node(expr, op, labels)
    subs = program.env.concrete_subs() if program is not None else None
    return simplify(node, rules=DERIVATIVE_RULES, subs=subs, unfold_lets=True).result


__all__ = ["derivative", "diff_node", "DERIVATIVE_RULES"]
