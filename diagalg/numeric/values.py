"""The arrays behind a diagram, to be shown beside its drawing (``draw ... --values``).

A picture of a contraction says how tensors connect, not what is in them; the
paper's induction-head check and its image-compression figure look at the numbers
(attention patterns, weights, singular values). :func:`values_of` gathers them:
the value of the drawn expression itself, then every shape the drawing shows (a
declared tensor, a folded ``let`` box), each as an array in the order of the legs it is labelled with. The renderer
(:mod:`diagalg.render.values`) is handed these arrays and never evaluates anything.

Where the numbers come from is part of what is shown: a tensor bound by ``weights``
(or ``--weights``) shows its bound array; any other tensor is sampled the way the
oracle samples it (its declared properties hold), from ``seed``, at one size draw.
A dimension too large to sample is replaced by a stand-in size exactly as in a
check, and the source line says so: a heatmap of a stand-in ``d_model = 65`` must
never pass for the real model's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Protocol

import numpy as np

from ..model import BoxOp, BubbleOp, DerivOp, Expr, TensorOp
from .check import draw_instance, fixed_inputs
from .decls import collect
from .evaluate import evaluate
from .sample import DEFAULT_MEMORY_CAP
from .sizes import SizeDraw, sample_sizes

if TYPE_CHECKING:
    from ..decompose import Decomposition
    from ..dims import DimEnv
    from ..model import TensorDecl
    from ..program import DecomposeStmt
    from ..weights import Binding


class Declarations(Protocol):
    """What the values need of a program: its dimensions and its bound weights."""

    env: DimEnv
    binding: Binding | None


@dataclass(frozen=True)
class ShownArray:
    """One array to show: ``name`` as the drawing labels it, ``legs`` naming the axes of
    ``array`` in order (a leg of a declared tensor, or a free label of the expression),
    ``sizes`` their sizes, and ``origin``: ``"bound"`` (from a weights file),
    ``"sampled"`` (drawn by the oracle's sampler), ``"factor"`` (a ``decompose`` factor,
    computed from its target) or ``"value"`` (the drawn expression, computed from those)."""

    name: str
    legs: tuple[str, ...]
    array: np.ndarray
    origin: str


@dataclass(frozen=True)
class ShownValues:
    """Everything a values panel shows, and one line saying where the numbers come from."""

    arrays: tuple[ShownArray, ...]
    source: str


def shapes_shown(expr: Expr) -> list[TensorOp | BoxOp]:
    """The shapes with values a drawing of ``expr`` shows, each once, in the order they first
    appear (term by term, node by node): declared tensors, and folded ``let`` boxes (whose
    value is the let's). What is inside a folded box is not drawn, so it is not listed."""
    seen: dict[str, TensorOp | BoxOp] = {}

    def visit(e: Expr) -> None:
        for term in e.terms:
            for node in term.diagram.nodes:
                op = node.op
                if isinstance(op, TensorOp) and op.decl.name not in seen:
                    seen[op.decl.name] = op
                elif isinstance(op, BoxOp):
                    if op.name:
                        seen.setdefault(op.name, op)
                    else:
                        visit(op.inner)  # an unnamed box (a bracket) is drawn open
                elif isinstance(op, (BubbleOp, DerivOp)):
                    visit(op.inner)  # a bubble's inside is drawn inside it

    visit(expr)
    return list(seen.values())


def values_of(
    expr: Expr,
    program: Declarations,
    seed: int = 0,
    labels: tuple[str, ...] | None = None,
    name: str | None = None,
    dims: Mapping[str, int] | None = None,
    memory_cap: int = DEFAULT_MEMORY_CAP,
) -> ShownValues:
    """The arrays behind a drawing of ``expr`` in ``program``: first the expression's own
    value (named ``name``, by default its text; axes in the order ``labels``, by default
    its free labels sorted), unless the expression is a single tensor or folded let on
    its own legs (then that shape's panel is the value), then each shape :func:`shapes_shown` finds: a declared
    tensor in declared leg order, a folded let in its own label order.

    Promises: the arrays are those one oracle draw would use (bound where bound, sampled
    otherwise, with the check's size rules), so what is shown is what a check sees.
    Raises :class:`~diagalg.numeric.errors.NumericError` when the draw cannot be made
    (a memory cap, constraints without a solution)."""
    env = program.env
    decls, funcs, syms = collect([expr])
    exact, bound = fixed_inputs(env, decls, getattr(program, "binding", None), dims)
    rng = np.random.default_rng(seed)
    draw = sample_sizes(syms, env, decls.values(), rng, (), exact)
    inst = draw_instance(decls, funcs, draw, rng, memory_cap, bound)
    order = tuple(labels) if labels is not None else expr.labels
    shown: list[ShownArray] = []
    if not _is_bare_shape(expr):
        value = evaluate(expr, inst, order).array
        shown.append(ShownArray(name or _name_of(expr), order, value, "value"))
    for op in shapes_shown(expr):
        if isinstance(op, BoxOp):
            let_labels = tuple(op.ports)
            shown.append(ShownArray(op.name or "", let_labels, evaluate(op.inner, inst, let_labels).array, "value"))
            continue
        tensor = op.decl.name
        if tensor not in inst.arrays:
            continue
        origin = "bound" if tensor in bound else "factor" if op.decl.origin is not None else "sampled"
        shown.append(ShownArray(tensor, op.decl.legs, inst.arrays[tensor], origin))
    return ShownValues(tuple(shown), _source_text(draw, bound, decls, seed, program))


def _is_bare_shape(expr: Expr) -> bool:
    """One tensor (not conjugated or inverted) or one folded let box on its own legs: its
    panel is the expression's value, which is then not shown twice."""
    if len(expr.terms) != 1 or expr.terms[0].coeff != 1 or len(expr.terms[0].diagram.nodes) != 1:
        return False
    node = expr.terms[0].diagram.nodes[0]
    op = node.op
    plain = (isinstance(op, TensorOp) and not op.conj and not op.inv) or (isinstance(op, BoxOp) and bool(op.name))
    return plain and dict(expr.terms[0].diagram.free) == dict(zip(op.ports, node.edges))


def _name_of(expr: Expr) -> str:
    from ..printing import expr_text

    if len(expr.terms) == 1 and len(expr.terms[0].diagram.nodes) == 1:
        op = expr.terms[0].diagram.nodes[0].op
        if isinstance(op, BoxOp) and op.name:
            return op.name
    text = expr_text(expr)
    return text if len(text) <= 60 else text[:57] + "..."


def _source_text(
    draw: SizeDraw, bound: Mapping[str, np.ndarray], decls: Mapping[str, TensorDecl], seed: int, program: Declarations
) -> str:
    sizes = ", ".join(f"{k}={v}" for k, v in sorted(draw.by_name().items()))
    sampled = sorted(n for n, d in decls.items() if n not in bound and d.origin is None)
    binding = getattr(program, "binding", None)
    files = sorted({binding.sources.get(n, "") for n in bound} - {""}) if binding is not None else []
    parts = []
    if bound:
        parts.append(f"bound from {', '.join(files) or 'weights'}: {', '.join(sorted(bound))}")
    if sampled:
        parts.append(f"sampled (seed {seed}): {', '.join(sampled)}")
    text = "; ".join(parts) or "no tensors"
    if sizes:
        text += f"; sizes {sizes}"
    if draw.standins:
        text += f" (stand-in sizes: {draw.standin_text()})"
    return text


@dataclass(frozen=True)
class Spectrum:
    """The singular values of one unfolding of a decomposition's target: ``rows`` against
    ``cols`` (target labels), all of them largest first, and ``kept``, how many the stated
    bond keeps (all of them for an exact decomposition)."""

    rows: tuple[str, ...]
    cols: tuple[str, ...]
    bond: str
    values: np.ndarray
    kept: int


def spectra_of(
    stmt: DecomposeStmt,
    program: Declarations,
    seed: int = 0,
    dims: Mapping[str, int] | None = None,
    memory_cap: int = DEFAULT_MEMORY_CAP,
) -> tuple[list[Spectrum], str]:
    """The spectra a ``decompose`` statement cuts, on the first draw its check makes
    (bound target, or sampled from ``seed``), and the source line: for ``svd`` the one
    unfolding (U's labels against the rest), for ``tt`` the unfolding at every bond of
    the chain, for ``tucker`` each leg against the others. Other kinds cut no spectrum
    (an empty list). The full spectrum is computed here, so a truncation's cut is shown
    against what it discards, which its factors alone cannot show."""
    dec = stmt.decomposition
    if dec.kind not in ("svd", "tt", "tucker"):
        return [], ""
    decls, funcs, _ = collect([stmt.lhs])
    every, _, syms = collect([stmt.lhs, stmt.rhs])  # the bonds' sizes are drawn as the check draws them
    exact, bound = fixed_inputs(program.env, decls, getattr(program, "binding", None), dims)
    rng = np.random.default_rng(seed)
    draw = sample_sizes(syms, program.env, every.values(), rng, (), exact)
    inst = draw_instance(decls, funcs, draw, rng, memory_cap, bound)
    labels = tuple(dec.target_labels)
    target = inst.arrays[dec.target.name]
    bonds = dict(dec.bonds)
    out: list[Spectrum] = []
    for rows, bond in _unfoldings(dec, labels, bonds):
        cols = tuple(l for l in labels if l not in rows)
        perm = [labels.index(l) for l in rows + cols]
        m = np.transpose(target, perm).reshape(int(np.prod([target.shape[labels.index(l)] for l in rows])), -1)
        values = np.linalg.svd(m, compute_uv=False)
        out.append(Spectrum(rows, cols, bond, values, min(inst.size(bonds[bond]), len(values))))
    return out, _source_text(draw, bound, decls, seed, program)


def _unfoldings(
    dec: Decomposition, labels: tuple[str, ...], bonds: Mapping[str, object]
) -> list[tuple[tuple[str, ...], str]]:
    uses = dec.uses
    if dec.kind == "tucker":
        return [
            (tuple(l for l in u.labels if l in labels), next(l for l in u.labels if l in bonds))
            for u in uses
            if sum(l in labels for l in u.labels) == 1 and any(l in bonds for l in u.labels)
        ]
    cuts: list[tuple[tuple[str, ...], str]] = []
    rows: list[str] = []
    for k, u in enumerate(uses):
        mine = [l for l in u.labels if l in labels]
        rows.extend(mine)
        later = {l for v in uses[k + 1 :] for l in v.labels}
        if not mine or not (later & set(labels)):
            continue
        bond = next((l for l in u.labels if l in bonds and l in later), None)
        if bond is not None:
            cuts.append((tuple(rows), bond))
    return cuts
