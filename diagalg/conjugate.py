"""The complex conjugate of an expression, built symbolically.

``conj(psi)`` of a ``let psi`` is the let's definition with every complex tensor
turned into its conjugate and every coefficient conjugated: conjugation is a ring
homomorphism, so it passes through sums and contractions, and copy tensors, shifts
and reshapes are real 0/1 tensors that it leaves alone. The result is an ordinary
expression, so the proof engine, the numeric oracle, printing, drawing and export
need nothing new for it.

A nonlinear node is where this stops being automatic: ``conj(f(z)) = f(conj(z))``
holds for functions with real Taylor coefficients away from their branch cuts
(``log`` on the negative reals is the counterexample), not for every function. So a
bubble, a user function or a derivative is passed through only when nothing complex
is inside it (it is then real and its own conjugate); otherwise
:class:`NotConjugable` says which node stops it, rather than guessing.
"""

from __future__ import annotations

import sympy

from .model import BoxOp, BubbleOp, DerivOp, Diagram, Expr, Node, Op, TensorOp, Term, tensor_op
from .powers import is_real


class NotConjugable(ValueError):
    """The conjugate would need a nonlinear function of a complex value."""


def conjugate(expr: Expr, name: str | None = None) -> Expr:
    """The complex conjugate of ``expr``, with the same free labels. Folded lets inside
    are conjugated as boxes named ``conj(NAME)``; ``name`` is only used in messages.
    Raises :class:`NotConjugable` at a nonlinear node over complex values."""
    if is_real(expr):
        return expr
    terms = tuple(Term(sympy.conjugate(t.coeff), _diagram(t.diagram, name), t.tags) for t in expr.terms)
    return Expr(terms, expr.free)


def _diagram(d: Diagram, name: str | None) -> Diagram:
    return d.with_nodes(Node(_op(n.op, name), n.edges) for n in d.nodes)


def _op(op: Op, name: str | None) -> Op:
    if isinstance(op, TensorOp):
        return tensor_op(op.decl, not op.conj, op.inv)
    if isinstance(op, BoxOp):
        inner = conjugate(op.inner, name)
        if inner is op.inner:
            return op
        box_name = op.name if op.name is None or op.name.startswith("@") else _conj_name(op.name)
        return BoxOp(inner, op.ports, box_name)
    if isinstance(op, (BubbleOp, DerivOp)):
        if is_real(op.inner):
            return op
        what = f"the let '{name}'" if name else "this expression"
        kind = "a derivative" if isinstance(op, DerivOp) else f"{getattr(op, 'kind', 'a function')}(...)"
        raise NotConjugable(
            f"conj of {what} needs the conjugate of {kind} of a complex value, which "
            "diagalg does not take to be that function of the conjugate (false for log on "
            "its branch cut): write the conjugate out"
        )
    return op  # copy tensors, shifts, reshapes, one-hot selectors: real


def _conj_name(name: str) -> str:
    """``conj(psi)`` for ``psi``, and ``psi`` back for ``conj(psi)``."""
    if name.startswith("conj(") and name.endswith(")"):
        return name[len("conj(") : -1]
    return f"conj({name})"
