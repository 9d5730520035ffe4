"""The exact path of the numeric oracle: statements decided by evaluation on random
elements of a prime field (Schwartz–Zippel), with no tolerance.

A statement built only from contractions, sums, copy tensors, ``shift``,
``group``/``split`` reshapes, ``onehot`` vectors, ``inv``, ``conj``, boxes,
``pow`` with a non-negative integer exponent, ``inv`` and ``det`` of an expression,
and coefficients that are rational
at the drawn sizes has entries that are rational functions of the tensors'
entries. Both sides are evaluated on tensors drawn uniformly over F_p (F_p[i]
for complex ones, p ≡ 3 mod 4 so that conj is the Frobenius map) subject to
their declared properties (:mod:`.field`), with the arithmetic of
:mod:`.modp`. A difference mod p is a definitive counterexample: the two
rational functions differ at that point, so they differ as functions. An
identity that is false, of degree d in the entries, survives one draw with
probability at most d/p (p > 2^20); every check uses two different primes and
several draws per prime. :func:`exact_obstacle` says when a statement is out of
reach (the float path then decides it); :func:`compare_exact` runs the check.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import sympy

from ..bubbles import get_bubble
from ..model import BoxOp, BubbleOp, DerivOp, Expr, IndexOp, Node, TensorDecl, TensorOp, nested_exprs
from .contract import contract_diagram
from .decls import collect
from .errors import MemoryCapError, NumericError, SamplingError
from .field import field_sample
from .instance import SizeLookup
from .modp import DenominatorVanishes, Element, ExactUnavailable, Field, ModBackend, draw_primes
from .result import NumericResult
from .sample import DEFAULT_MEMORY_CAP
from .sizes import SizeDraw

if TYPE_CHECKING:
    from ..weights import Binding

__all__ = ["FieldInstance", "compare_exact", "evaluate_exact", "exact_obstacle"]

#: A replacement prime is drawn at most this many times when a denominator vanishes.
PRIME_RETRIES = 4
#: Mixed into the seed so that the exact path's draws are not the float path's.
_STREAM = 0x5A17


# --------------------------------------------------------------------------- which statements


def exact_obstacle(exprs: Sequence[Expr], binding: Binding | None = None) -> str | None:
    """Why the exact path cannot decide a statement about ``exprs``, or None when it can.

    Obstacles: a transcendental or piecewise bubble (exp, log, tanh, sigmoid,
    gelu, relu, softmax, logsumexp, layernorm, causal), a user function, ``pow``
    whose exponent is not a non-negative integer, a derivative (kept on the float
    path), a tensor bound to float weights (``binding``), a factor of a stated
    decomposition (computed numerically from its target), and a coefficient that
    is a floating-point number or a constant that is not a (Gaussian) rational.
    A coefficient that is irrational only at some sizes (``1/sqrt(d)``) is found
    when it is evaluated: :func:`compare_exact` then returns None.
    """
    bound = set(getattr(binding, "arrays", None) or ()) if binding else set()
    stack = list(exprs)
    while stack:
        expr = stack.pop()
        for term in expr.terms:
            why = _coefficient_obstacle(sympy.sympify(term.coeff))
            if why:
                return why
            for node in term.diagram.nodes:
                why = _node_obstacle(node, bound)
                if why:
                    return why
                stack.extend(nested_exprs(node.op))
    return None


def _node_obstacle(node: Node, bound: set[str]) -> str | None:
    op = node.op
    if isinstance(op, BubbleOp):
        why = get_bubble(op.kind).exact_obstacle(op.param)  # the bubble registry knows which maps are polynomial
        if why and op.func is not None:
            return f"{why}: {op.func.name}"
        return why
    if isinstance(op, DerivOp):
        return "a derivative is evaluated on the float path"
    if isinstance(op, TensorOp):
        decl = op.decl
        if decl.origin is not None:
            return f"{decl.name} is a factor of a stated decomposition, computed numerically"
        if decl.name in bound:
            return f"{decl.name} is bound to float weights"
    return None


def _coefficient_obstacle(c: sympy.Expr) -> str | None:
    if c.is_Rational:
        return None
    if c.atoms(sympy.Float):
        return f"the coefficient {c} is a floating-point number"
    if not c.free_symbols and _gaussian_rational(c) is None:
        return f"the coefficient {c} is not rational"
    return None


def _gaussian_rational(v: sympy.Expr) -> tuple[sympy.Rational, sympy.Rational] | None:
    """(re, im) when ``v`` is a + b·i with rational a and b, else None."""
    if v.is_Rational:
        return v, sympy.Integer(0)
    if not v.has(sympy.I):
        return None
    re, im = sympy.expand(v).as_real_imag()
    if re.is_Rational and im.is_Rational:
        return re, im
    return None


# --------------------------------------------------------------------------- instances


@dataclass
class FieldInstance(SizeLookup):
    """A random instance over F_p: ``sizes`` of every dimension symbol, ``arrays`` of
    canonical residues (complex128 over F_p[i] for complex tensors) in declared leg
    order, the ``field`` and the ``memory_cap`` in bytes. ``shared`` holds the
    caches that depend only on the sizes and the prime (substitution, sizes,
    coefficients), so tensor draws at one size draw and prime can share it."""

    sizes: dict[sympy.Symbol, int]
    arrays: dict[str, np.ndarray]
    field: Field
    memory_cap: int = DEFAULT_MEMORY_CAP
    shared: dict[str, dict[Any, Any]] = dc_field(default_factory=dict)
    #: inverses known from sampling (tensor name -> the array of inv(tensor))
    inverses: dict[str, np.ndarray] = dc_field(default_factory=dict)
    _tensors: dict[tuple[str, bool, int], np.ndarray] = dc_field(default_factory=dict, init=False, repr=False)

    def _bucket(self, name: str) -> dict[Any, Any]:
        return self.shared.setdefault(name, {})

    def scalar(self, value: sympy.Expr) -> Element:
        """A coefficient at these sizes as an element of F_p or F_p[i]. Raises
        :class:`ExactUnavailable` when it is not a (Gaussian) rational there and
        :class:`DenominatorVanishes` when p divides a denominator."""
        bucket = self._bucket("scalars")
        if value not in bucket:
            v = sympy.sympify(value).xreplace(self._subs())
            if v.free_symbols:
                names = ", ".join(sorted(str(s) for s in v.free_symbols))
                raise SamplingError(f"no size was drawn for {names} (in the coefficient {value})")
            parts = _gaussian_rational(v)
            if parts is None:
                raise ExactUnavailable(f"the coefficient {value} is {v} at these sizes, not rational")
            re, im = parts
            bucket[value] = self.field.element(int(re.p), int(re.q), int(im.p), int(im.q))
        return bucket[value]

    def exponent(self, value: sympy.Expr) -> int:
        """A ``pow`` exponent at these sizes; ExactUnavailable unless a non-negative integer."""
        k = sympy.sympify(value).xreplace(self._subs())
        if not (k.is_Integer and k >= 0):
            raise ExactUnavailable(f"pow with the exponent {k} is not polynomial")
        return int(k)

    def tensor(self, op: TensorOp) -> np.ndarray:
        """The array of a tensor occurrence, axes in ``op.ports`` order: the declared
        array, conjugated (Frobenius) when ``op.conj``, inverted mod p when ``op.inv``
        is odd (the matrix from the input legs to the output legs, as
        :meth:`Instance.tensor`). A singular matrix raises :class:`ExactUnavailable`."""
        key = (op.decl.name, op.conj, op.inv % 2)
        if key in self._tensors:
            return self._tensors[key]
        try:
            arr = self.arrays[op.decl.name]
        except KeyError:
            raise NumericError(f"no array for tensor {op.decl.name}") from None
        if op.conj:
            arr = self.field.conj(arr)
        if op.inv % 2:
            known = self.inverses.get(op.decl.name)
            if known is None:
                arr = self._inverse(arr, op)
            else:
                arr = self.field.conj(known) if op.conj else known
        self._tensors[key] = arr
        return arr

    def _inverse(self, arr: np.ndarray, op: TensorOp) -> np.ndarray:
        decl = op.decl
        inputs, outputs = decl.inputs, decl.outputs
        if not inputs or not outputs:
            raise NumericError(f"inv({decl.name}): {decl.name} declares no input and output legs")
        shape = dict(zip(decl.legs, arr.shape))
        n_out = int(np.prod([shape[l] for l in outputs]))
        n_in = int(np.prod([shape[l] for l in inputs]))
        if n_out != n_in:
            raise NumericError(f"inv({decl.name}): {decl.name} maps size {n_in} to size {n_out}, not square")
        mat = np.transpose(arr, [decl.legs.index(l) for l in outputs + inputs]).reshape(n_out, n_in)
        try:
            inv = self.field.inverse_matrix(mat)
        except ZeroDivisionError:
            raise ExactUnavailable(
                f"inv({decl.name}): the sampled {decl.name} is singular mod {self.field.p}"
            ) from None
        return inv.reshape(tuple(shape[l] for l in inputs + outputs))


def draw_field_instance(
    decls: Mapping[str, TensorDecl],
    draw: SizeDraw,
    rng: np.random.Generator,
    field: Field,
    memory_cap: int = DEFAULT_MEMORY_CAP,
    shared: dict[str, dict[Any, Any]] | None = None,
) -> FieldInstance:
    """A tensor draw over F_p at the sizes ``draw``: every tensor sampled in name order
    (with the inverses the sampling computes anyway)."""
    arrays: dict[str, np.ndarray] = {}
    inverses: dict[str, np.ndarray] = {}
    for name in sorted(decls):
        arrays[name], inv = field_sample(decls[name], draw.sizes, rng, field, memory_cap)
        if inv is not None:
            inverses[name] = inv
    return FieldInstance(dict(draw.sizes), arrays, field, memory_cap, {} if shared is None else shared, inverses)


# --------------------------------------------------------------------------- evaluation


def evaluate_exact(expr: Expr, inst: FieldInstance, labels: Sequence[str] | None = None) -> np.ndarray:
    """The value of ``expr`` on ``inst`` mod p, canonical (every part in [0, p)), axes in
    the order ``labels`` (default: the sorted free labels). Raises
    :class:`ExactUnavailable` for what has no exact meaning (see
    :func:`exact_obstacle`) and :class:`MemoryCapError` past the memory cap."""
    labels = tuple(expr.labels if labels is None else labels)
    return inst.field.canonical(_eval_expr(expr, inst, ModBackend(inst.field), labels))


def _eval_expr(expr: Expr, inst: FieldInstance, backend: ModBackend, labels: Sequence[str]) -> np.ndarray:
    """The reduced value of ``expr``, axes ``labels``."""
    if sorted(labels) != list(expr.labels):
        raise ValueError(f"labels {list(labels)} are not the expression's free labels {list(expr.labels)}")
    field = inst.field
    total: np.ndarray | None = None
    for term in expr.terms:
        coeff = inst.scalar(term.coeff)
        if coeff == 0:
            continue
        value = field.scale(
            coeff,
            contract_diagram(
                term.diagram,
                expr.labels,
                lambda node: _operand(node, inst, backend),
                inst.size,
                inst.memory_cap,
                backend,
            ),
        )
        total = value if total is None else field.reduce(total + value)
    if total is None:
        total = np.zeros(tuple(inst.size(expr.free_dims[label]) for label in expr.labels))
    order = [expr.labels.index(label) for label in labels]
    return np.asarray(np.transpose(total, order))


def _operand(node: Node, inst: FieldInstance, backend: ModBackend) -> np.ndarray:
    """The reduced array of a dense node, axes in its port order."""
    op = node.op
    if isinstance(op, TensorOp):
        return inst.tensor(op)
    if isinstance(op, BoxOp):
        return _eval_expr(op.inner, inst, backend, op.ports)
    if isinstance(op, IndexOp):
        return inst.onehot(op)
    if isinstance(op, BubbleOp) and (exact := get_bubble(op.kind).exact) is not None:
        x = _eval_expr(op.inner, inst, backend, op.inner.labels)  # inv, det: rational maps (the registry's)
        return exact(x, tuple(op.inner.labels.index(a) for a in op.axes), op.param, inst.field)
    if isinstance(op, BubbleOp) and op.kind == "pow" and op.param is not None:
        x = _eval_expr(op.inner, inst, backend, op.inner.labels)
        return inst.field.power(x, inst.exponent(op.param))
    raise ExactUnavailable(f"{type(op).__name__} has no exact evaluation")


# --------------------------------------------------------------------------- the check


@dataclass(frozen=True)
class _Outcome:
    """What one (size draw, prime) gave: ``evaluated`` instances, and the sizes of a
    counterexample (None when every draw agreed)."""

    evaluated: int
    counterexample: dict[str, int] | None


def compare_exact(
    lhs: Expr,
    rhs: Expr,
    draws: Sequence[SizeDraw],
    *,
    seed: int,
    tensor_draws: int = 2,
    memory_cap: int = DEFAULT_MEMORY_CAP,
    expect_equal: bool = True,
) -> NumericResult | None:
    """Decide ``lhs == rhs`` exactly: for every size draw in ``draws``, ``tensor_draws``
    tensor draws split between two different primes drawn from ``seed`` (at least one
    over each: two draws are one over F_p and one over F_q, each an independent
    Schwartz–Zippel trial, so the exact path evaluates no more instances than the
    float path's ``size draws x tensor draws``).

    "equal" when every draw agrees exactly mod p; "different" at the first draw that
    differs (a definitive counterexample, ``sizes`` its sizes); the same statuses
    whatever ``expect_equal`` (the caller reads them for ``==`` or ``!=``). A
    memory-cap refusal gives "inconclusive" with the reason. None when the exact
    path does not apply: an obstacle (:func:`exact_obstacle`), a coefficient
    irrational at these sizes, denominators divisible by every prime tried, or a
    sampling or evaluation failure (the float path then reports it). Raises
    ValueError when the sides' free labels differ.
    """
    del expect_equal  # both readings share the statuses; the caller interprets them
    if set(lhs.labels) != set(rhs.labels):
        raise ValueError(f"the sides have different free labels: {sorted(lhs.labels)} and {sorted(rhs.labels)}")
    if not draws or exact_obstacle([lhs, rhs]) is not None:
        return None
    decls, funcs, _ = collect([lhs, rhs])
    if funcs or any(d.origin is not None for d in decls.values()):
        return None
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _STREAM]))
    primes = list(draw_primes(rng, 2))
    tried = set(primes)
    evaluated = 0
    standins: dict[str, tuple[int, ...]] = {}
    current: dict[str, int] = {}  # the sizes being checked (named in a refusal)

    def result(status: str, sizes: dict[str, int], reason: str = "") -> NumericResult:
        err = 1.0 if status == "different" else 0.0
        return NumericResult(
            status=status,
            max_error=err,
            rel_error=err,
            seed=seed,
            draws=evaluated,
            standins=standins,
            reason=reason,
            approximate=False,
            sizes=sizes,
            path="exact",
        )

    try:
        for draw in draws:
            standins.update(draw.standins)
            current = draw.by_name()
            for slot in range(len(primes)):
                for _ in range(PRIME_RETRIES):
                    try:
                        per_prime = max(1, -(-tensor_draws // len(primes)))
                        outcome = _check(lhs, rhs, decls, draw, Field(primes[slot]), rng, per_prime, memory_cap)
                        break
                    except DenominatorVanishes:
                        primes[slot] = draw_primes(rng, 1, avoid=tuple(tried))[0]
                        tried.add(primes[slot])
                else:
                    return None
                evaluated += outcome.evaluated
                if outcome.counterexample is not None:
                    return result("different", outcome.counterexample)
    except MemoryCapError as err:
        return result("inconclusive", current, str(err))
    except NumericError:
        return None
    return result("equal", draws[0].by_name())


def _check(
    lhs: Expr,
    rhs: Expr,
    decls: Mapping[str, TensorDecl],
    draw: SizeDraw,
    field: Field,
    rng: np.random.Generator,
    tensor_draws: int,
    memory_cap: int,
) -> _Outcome:
    """``tensor_draws`` exact draws at one size draw and one prime."""
    labels = lhs.labels
    shared: dict[str, dict[Any, Any]] = {}
    for k in range(max(1, tensor_draws)):
        inst = draw_field_instance(decls, draw, rng, field, memory_cap, shared)
        a = evaluate_exact(lhs, inst, labels)
        b = evaluate_exact(rhs, inst, labels)
        if a.shape != b.shape:
            raise ValueError(f"the two sides have shapes {a.shape} and {b.shape}")
        if not np.array_equal(a, b):
            return _Outcome(k + 1, draw.by_name())
    return _Outcome(max(1, tensor_draws), None)
