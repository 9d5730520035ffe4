"""Decompositions stated once: ``decompose KIND T[labels] = F1[...] F2[...] ...``.

This module knows the *structure* each kind implies (which factor is which, the
dimension of every new bond, the properties of the factors) and nothing of the
syntax: :mod:`diagalg.lower` hands :func:`plan` plain factor uses and turns its
:class:`ShapeError` into positioned errors; :func:`plan` decides the new bonds'
dimensions, the factor tensors and the rewrite rules an exact decomposition adds. The numbers are computed by
:mod:`diagalg.numeric.factorise` from the sampled (or bound) target tensor.

Kinds and the forms they accept (the target's labels split among the factors;
``r``, ``k``, ``a``..., ``x``... are new bond labels):

- ``svd``: ``U[rows, r] s[r] conj(V)[cols, r]`` (exact ``=``, or truncated ``~`` to
  the bond's dimension); U and V are isometries, s the singular values.
- ``qr``: ``Q[rows, r] R[r, cols]``, Q an isometry (exact).
- ``polar``: ``U[rows, r] P[r, j]`` for one column leg j, U an isometry and P
  Hermitian positive definite (exact; needs ``|j| <= |rows|``).
- ``eigh``: ``Q[rows, k] w[k] conj(Q)[cols, k]`` of a symmetric (or Hermitian) matrix,
  Q unitary (exact).
- ``cp``: ``A[i, r] B[j, r] C[k, r] [lam[r]]``, one leg per factor (always ``~``).
- ``tucker``: ``G[a, b, c] A[i, a] B[j, b] C[k, c]``; factors are isometries (HOSVD);
  exact with full multilinear ranks, or truncated ``~``.
- ``tt``: a chain ``A1[i, x] A2[x, j, y] ... AN[z, l]`` by successive SVDs; every core
  but the last is a left-canonical isometry, the last is the orthogonality centre.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Container, Iterable, Mapping, Sequence, TypeAlias

import sympy

from .dims import DimConstraint, DimEnv, dim_text
from .model import TensorDecl

KINDS = ("svd", "qr", "polar", "eigh", "cp", "tucker", "tt")
EXACT_ONLY = ("qr", "polar", "eigh")
APPROX_ONLY = ("cp",)


class ShapeError(ValueError):
    """The statement does not have the form the kind needs. Where, for the error
    position: ``factor`` (an index into the factor uses), ``label`` (its last use),
    ``bond`` (a new bond label, at its first use), ``note`` (the label whose written
    dimension is wrong) or ``whole`` (the statement); else the kind."""

    def __init__(
        self,
        message: str,
        factor: int | None = None,
        label: str | None = None,
        *,
        bond: str | None = None,
        note: str | None = None,
        whole: bool = False,
    ) -> None:
        super().__init__(message)
        self.factor = factor
        self.label = label
        self.bond = bond
        self.note = note
        self.whole = whole


@dataclass(frozen=True)
class FactorUse:
    """One factor as written: ``conj(V)[j, r]`` is ``FactorUse("V", True, ("j", "r"))``."""

    name: str
    conj: bool
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Decomposition:
    """A stated decomposition: what the numeric side needs to compute the factors.

    ``target_labels[i]`` is the label bound to the target's i-th declared leg;
    ``uses`` are the factors as written; ``bonds`` each new label with its dimension;
    ``rule`` names the rewrite ``T -> factors`` (exact kinds only).
    """

    kind: str
    exact: bool
    target: TensorDecl
    target_labels: tuple[str, ...]
    uses: tuple[FactorUse, ...]
    bonds: tuple[tuple[str, sympy.Expr], ...]
    rule: str

    @property
    def factor_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(u.name for u in self.uses))


@dataclass(frozen=True)
class FactorRole:
    """A new tensor's legs (labels at its first use) and its declared structure."""

    name: str
    legs: tuple[str, ...]
    structure: str | None = None
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    real: bool = False  # singular values, eigenvalues and CP weights are real


@dataclass(frozen=True)
class Shape:
    """What a kind implies: the roles of the factors, each bond's full rank (the
    dimension an exact decomposition gives it) and extra dimension constraints."""

    roles: tuple[FactorRole, ...]
    full_rank: dict[str, sympy.Expr]
    needs: tuple[tuple[sympy.Expr, str, sympy.Expr], ...] = ()


def _prod(dims: Sequence[sympy.Expr]) -> sympy.Expr:
    return sympy.Mul(*dims) if dims else sympy.Integer(1)


def _min(a: sympy.Expr, b: sympy.Expr) -> sympy.Expr:
    return sympy.Min(a, b)


def analyse(
    kind: str, exact: bool, target: TensorDecl, target_labels: Sequence[str], uses: Sequence[FactorUse]
) -> Shape:
    """The structure ``kind`` implies for these factor uses, or :class:`ShapeError`."""
    if kind not in KINDS:
        raise ShapeError(f"unknown decomposition '{kind}' (known: {', '.join(KINDS)})")
    if exact and kind in APPROX_ONLY:
        raise ShapeError(f"a {kind} decomposition is an approximation: write `~` instead of `=`")
    if not exact and kind in EXACT_ONLY:
        raise ShapeError(f"a {kind} decomposition is exact: write `=` instead of `~`")
    tl = tuple(target_labels)
    dim_of = dict(zip(tl, target.dims))
    seen: dict[str, FactorUse] = {}
    for i, u in enumerate(uses):
        if len(set(u.labels)) != len(u.labels):
            raise ShapeError(f"'{u.name}' repeats a label", factor=i)
        if u.name in seen and len(seen[u.name].labels) != len(u.labels):
            raise ShapeError(
                f"'{u.name}' is used with {len(u.labels)} legs here and {len(seen[u.name].labels)} before", factor=i
            )
        seen.setdefault(u.name, u)
    counts: dict[str, int] = {}
    for u in uses:
        for l in u.labels:
            counts[l] = counts.get(l, 0) + 1
    for l in tl:
        if counts.get(l, 0) != 1:
            raise ShapeError(
                f"the target's label '{l}' must be used by exactly one factor (used {counts.get(l, 0)} times)", label=l
            )
    analyser = {
        "svd": _svd,
        "qr": _two_factor,
        "polar": _two_factor,
        "eigh": _eigh,
        "cp": _cp,
        "tucker": _tucker,
        "tt": _tt,
    }[kind]
    return analyser(kind, target, tl, dim_of, list(uses))


def _bonds(uses: Sequence[FactorUse], tl: Sequence[str]) -> list[str]:
    out: list[str] = []
    for u in uses:
        out.extend(l for l in u.labels if l not in tl and l not in out)
    return out


def _split(u: FactorUse, tl: Sequence[str]) -> tuple[list[str], list[str]]:
    return [l for l in u.labels if l in tl], [l for l in u.labels if l not in tl]


def _distinct(uses: Sequence[FactorUse], n: int, what: str) -> None:
    names = [u.name for u in uses]
    if len(uses) != n or len(set(names)) != n:
        raise ShapeError(f"{what}")


def _svd(
    kind: str, target: TensorDecl, tl: tuple[str, ...], dim_of: dict[str, sympy.Expr], uses: list[FactorUse]
) -> Shape:
    _distinct(uses, 3, "an svd has three factors: U[rows, r] s[r] conj(V)[cols, r]")
    vec = [i for i, u in enumerate(uses) if len(u.labels) == 1]
    if len(vec) != 1:
        raise ShapeError("an svd has exactly one vector factor, the singular values s[r]")
    s = uses[vec[0]]
    (r,) = s.labels
    if r in tl:
        raise ShapeError("the singular values sit on the new bond, not on a leg of the target", factor=vec[0])
    u_i, v_i = [i for i in range(3) if i != vec[0]]
    U, V = uses[u_i], uses[v_i]
    for i, f in ((u_i, U), (v_i, V)):
        legs, bonds = _split(f, tl)
        if bonds != [r]:
            raise ShapeError(f"'{f.name}' must have the bond '{r}' and legs of the target only", factor=i)
        if not legs:
            raise ShapeError(f"'{f.name}' needs at least one leg of the target", factor=i)
    if U.conj:
        raise ShapeError(f"write the left factor without conj: {U.name}[...]", factor=u_i)
    if target.is_complex and not V.conj:
        raise ShapeError(f"for a complex tensor the right factor is conjugated: conj({V.name})[...]", factor=v_i)
    rows, cols = _split(U, tl)[0], _split(V, tl)[0]
    full = _min(_prod([dim_of[l] for l in rows]), _prod([dim_of[l] for l in cols]))
    roles = [
        FactorRole(U.name, U.labels, "isometry", (r,), tuple(rows)),
        FactorRole(s.name, s.labels, real=True),
        FactorRole(V.name, V.labels, "isometry", (r,), tuple(cols)),
    ]
    return Shape(tuple(roles), {r: full})


def _two_factor(
    kind: str, target: TensorDecl, tl: tuple[str, ...], dim_of: dict[str, sympy.Expr], uses: list[FactorUse]
) -> Shape:
    _distinct(
        uses, 2, f"a {kind} has two factors: " + ("Q[rows, r] R[r, cols]" if kind == "qr" else "U[rows, r] P[r, j]")
    )
    first, second = uses
    rows, b1 = _split(first, tl)
    cols, b2 = _split(second, tl)
    if len(b1) != 1 or b1 != b2:
        raise ShapeError(f"'{first.name}' and '{second.name}' must share one new bond label", factor=1)
    if not rows or not cols:
        raise ShapeError("each factor needs at least one leg of the target", factor=0 if not rows else 1)
    if first.conj or second.conj:
        raise ShapeError(f"write the factors of a {kind} without conj", factor=0 if first.conj else 1)
    (r,) = b1
    prow, pcol = _prod([dim_of[l] for l in rows]), _prod([dim_of[l] for l in cols])
    if kind == "qr":
        roles = (
            FactorRole(first.name, first.labels, "isometry", (r,), tuple(rows)),
            FactorRole(second.name, second.labels),
        )
        return Shape(roles, {r: _min(prow, pcol)})
    if len(cols) != 1 or len(second.labels) != 2:
        raise ShapeError(
            "a polar decomposition's second factor is a matrix P[r, j] on one leg j of the target", factor=1
        )
    roles = (
        FactorRole(first.name, first.labels, "isometry", (r,), tuple(rows)),
        FactorRole(second.name, second.labels, "posdef", (cols[0],), (r,)),
    )
    return Shape(roles, {r: pcol}, needs=((pcol, "<=", prow),))


def _eigh(
    kind: str, target: TensorDecl, tl: tuple[str, ...], dim_of: dict[str, sympy.Expr], uses: list[FactorUse]
) -> Shape:
    names = [u.name for u in uses]
    if len(uses) != 3 or len(set(names)) != 2:
        raise ShapeError("an eigendecomposition is Q[rows, k] w[k] conj(Q)[cols, k]")
    vec = [i for i, u in enumerate(uses) if len(u.labels) == 1]
    if len(vec) != 1:
        raise ShapeError("an eigendecomposition has one vector factor, the eigenvalues w[k]")
    w = uses[vec[0]]
    (k,) = w.labels
    q1, q2 = [uses[i] for i in range(3) if i != vec[0]]
    if q1.name != q2.name:
        raise ShapeError("the eigenvectors appear twice: Q[rows, k] w[k] conj(Q)[cols, k]")
    rows, cols = _split(q1, tl)[0], _split(q2, tl)[0]
    for i, f in enumerate(uses):
        if f is not w and _split(f, tl)[1] != [k]:
            raise ShapeError(f"'{f.name}' must have the bond '{k}' and legs of the target only", factor=i)
    if q1.conj or (target.is_complex and not q2.conj):
        raise ShapeError("write Q[rows, k] w[k] conj(Q)[cols, k]", factor=1)
    if [l for l in q1.labels if l != k] and q1.labels.index(k) != q2.labels.index(k):
        raise ShapeError(f"'{q1.name}' has its bond '{k}' in a different place in its two uses")
    legs = list(target.legs)
    row_legs = [legs[tl.index(l)] for l in rows]
    col_legs = [legs[tl.index(l)] for l in cols]
    sym = (
        any(sign == 1 and set(g) >= set(row_legs + col_legs) for g, sign in target.leg_symmetry)
        and len(rows) == len(cols) == 1
    )
    herm = target.hermitian and tuple(row_legs) == target.outputs and tuple(col_legs) == target.inputs
    herm = herm or (target.hermitian and tuple(col_legs) == target.outputs and tuple(row_legs) == target.inputs)
    if not (sym or herm):
        raise ShapeError(
            f"'{target.name}' must be declared symmetric (or posdef/projector) over these legs "
            "for an eigendecomposition"
        )
    n = _prod([dim_of[l] for l in rows])
    roles = (
        FactorRole(q1.name, q1.labels, "unitary" if len(rows) == 1 else "isometry", (k,), tuple(rows)),
        FactorRole(w.name, w.labels, real=True),
    )
    return Shape(roles, {k: n})


def _cp(
    kind: str, target: TensorDecl, tl: tuple[str, ...], dim_of: dict[str, sympy.Expr], uses: list[FactorUse]
) -> Shape:
    bonds = _bonds(uses, tl)
    if len(bonds) != 1:
        raise ShapeError("a cp decomposition joins its factors by one rank label: A[i, r] B[j, r] C[k, r]")
    (r,) = bonds
    roles = []
    weights = 0
    for i, u in enumerate(uses):
        legs, b = _split(u, tl)
        if b != [r] or len(legs) > 1 or u.conj:
            raise ShapeError(
                f"'{u.name}' must be a factor matrix {u.name}[leg, {r}] (or the weights {u.name}[{r}])", factor=i
            )
        if not legs:
            weights += 1
        roles.append(FactorRole(u.name, u.labels, real=not legs))
    if weights > 1 or len(uses) - weights != len(tl) or len({u.name for u in uses}) != len(uses):
        raise ShapeError("a cp decomposition has one factor matrix per leg and at most one weight vector")
    return Shape(tuple(roles), {})  # a CP rank is chosen, never implied


def _tucker(
    kind: str, target: TensorDecl, tl: tuple[str, ...], dim_of: dict[str, sympy.Expr], uses: list[FactorUse]
) -> Shape:
    cores = [i for i, u in enumerate(uses) if not _split(u, tl)[0]]
    if len(cores) != 1:
        raise ShapeError("a tucker decomposition has one core (a factor with no leg of the target)")
    core = uses[cores[0]]
    full: dict[str, sympy.Expr] = {}
    roles = [FactorRole(core.name, core.labels)]
    for i, u in enumerate(uses):
        if i == cores[0]:
            continue
        legs, b = _split(u, tl)
        if len(legs) != 1 or len(b) != 1 or b[0] not in core.labels or b[0] in full or u.conj:
            raise ShapeError(
                f"'{u.name}' must be a factor matrix {u.name}[leg, bond] with its bond on the core", factor=i
            )
        others = _prod([dim_of[l] for l in tl if l != legs[0]])
        full[b[0]] = _min(dim_of[legs[0]], others)
        roles.append(FactorRole(u.name, u.labels, "isometry", (b[0],), (legs[0],)))
    if set(full) != set(core.labels) or len(full) != len(tl) or len({u.name for u in uses}) != len(uses):
        raise ShapeError("a tucker decomposition has one factor matrix per leg, each joined to the core")
    return Shape(tuple(roles), full)


def _tt(
    kind: str, target: TensorDecl, tl: tuple[str, ...], dim_of: dict[str, sympy.Expr], uses: list[FactorUse]
) -> Shape:
    n = len(uses)
    if n < 2 or len({u.name for u in uses}) != n:
        raise ShapeError("a tensor train has at least two distinct cores, written in chain order")
    bonds: list[str] = []
    for k in range(n - 1):
        shared = [l for l in uses[k].labels if l in uses[k + 1].labels]
        if len(shared) != 1 or shared[0] in tl:
            raise ShapeError(
                f"cores '{uses[k].name}' and '{uses[k + 1].name}' must share one new bond label", factor=k + 1
            )
        bonds.append(shared[0])
    roles = []
    phys_so_far: list[str] = []
    full: dict[str, sympy.Expr] = {}
    for k, u in enumerate(uses):
        legs, b = _split(u, tl)
        expected = [x for x in (bonds[k - 1] if k else None, bonds[k] if k < n - 1 else None) if x]
        if sorted(b) != sorted(expected) or u.conj:
            raise ShapeError(
                f"core '{u.name}' must have its physical legs and the bonds to its neighbours only", factor=k
            )
        if not legs:
            raise ShapeError(f"core '{u.name}' needs at least one leg of the target", factor=k)
        phys_so_far.extend(legs)
        if k < n - 1:
            left = _prod([dim_of[l] for l in phys_so_far])
            right = _prod([dim_of[l] for l in tl if l not in phys_so_far])
            full[bonds[k]] = _min(left, right)
            ins = tuple(legs) + ((bonds[k - 1],) if k else ())
            roles.append(FactorRole(u.name, u.labels, "isometry", (bonds[k],), tuple(l for l in u.labels if l in ins)))
        else:
            roles.append(FactorRole(u.name, u.labels))
    return Shape(tuple(roles), full)


def factor_decl(
    role: FactorRole, dims: Mapping[str, sympy.Expr], target: TensorDecl, origin: Decomposition
) -> TensorDecl:
    """The declaration of a new factor tensor (legs named after its labels)."""
    return TensorDecl(
        role.name,
        role.legs,
        tuple(dims[l] for l in role.legs),
        (),
        (),
        role.structure,
        role.inputs,
        role.outputs,
        target.is_complex and not role.real,
        origin=origin,
    )


#: What a new bond's dimension is written as, if it is: a dimension, or a name that
#: is declared nowhere yet (which an exact decomposition declares as the full rank).
Written: TypeAlias = sympy.Expr | str | None


@dataclass(frozen=True)
class Plan:
    """What a ``decompose`` statement adds to its program: the decomposition, the new
    factor tensors (one per role, in role order), the rank names it declares (bond
    label -> new dimension name) and the rewrite rules ``T -> factors`` that proofs
    unfold (exact kinds only; a complex target also gets ``conj(T) -> conj(factors)``,
    whose rule name is the second)."""

    decomposition: Decomposition
    factors: tuple[TensorDecl, ...]
    new_dims: tuple[tuple[str, str], ...]
    rules: tuple[str, ...]


def plan(
    kind: str,
    exact: bool,
    target: TensorDecl,
    target_labels: Sequence[str],
    uses: Sequence[FactorUse],
    written: Callable[[str], Written],
    env: DimEnv,
    decompositions: Iterable[Decomposition],
    taken: Container[str],
) -> Plan:
    """Check a decomposition statement and decide what it declares, or raise
    :class:`ShapeError`. ``written(label)`` is the dimension written for a new bond
    (asked once per bond, in order of first use, so a rank name declared for one bond
    is a dimension for the next); ``decompositions`` are the program's earlier ones,
    ``taken`` the names already declared. Rank names, and the dimension constraints
    the kind and any truncation need, are added to ``env``."""
    shape = analyse(kind, exact, target, target_labels, uses)
    if exact:
        earlier = [d for d in decompositions if d.exact and d.target.name == target.name]
        if earlier:
            raise ShapeError(
                f"'{target.name}' already has an exact decomposition ({earlier[0].kind}); "
                "proofs unfold it, so a second one could not be used",
                whole=True,
            )
    rule_name, k = f"{kind}_{target.name}", 2
    while rule_name in taken:
        rule_name, k = f"{kind}_{target.name}_{k}", k + 1
    dims: dict[str, sympy.Expr] = dict(zip(target_labels, target.dims))
    bonds: list[tuple[str, sympy.Expr]] = []
    new_dims: list[tuple[str, str]] = []
    for label in dict.fromkeys(l for use in uses for l in use.labels if l not in dims):
        note = written(label)
        dims[label] = _bond_dim(kind, exact, label, shape.full_rank.get(label), note, env)
        if isinstance(note, str):
            new_dims.append((label, note))
        bonds.append((label, dims[label]))
    for a, op, b in shape.needs:
        env.constraints.append(DimConstraint(a, op, b))
    dec = Decomposition(kind, exact, target, tuple(target_labels), tuple(uses), tuple(bonds), rule_name)
    factors = tuple(factor_decl(role, dims, target, dec) for role in shape.roles)
    rules = ((rule_name, rule_name + "_conj") if target.is_complex else (rule_name,)) if exact else ()
    return Plan(dec, factors, tuple(new_dims), rules)


def _bond_dim(kind: str, exact: bool, label: str, full: sympy.Expr | None, note: Written, env: DimEnv) -> sympy.Expr:
    """The dimension of a new bond: written as ``label: NOTE`` (a new name is declared
    as the full rank of an exact decomposition; a declared dimension or number is the
    rank of a truncation, strictly below the full rank), or the full rank itself
    where it is a plain dimension."""
    if note is None:
        if exact and full is not None and not full.has(sympy.Min):
            return full
        hint = (
            f" ({label}: R names it R = {dim_text(full)})"
            if exact and full is not None
            else f" (the rank, e.g. {label}: q with `dim q` declared)"
        )
        raise ShapeError(f"write the dimension of the new bond '{label}' where it is first used{hint}", bond=label)
    if isinstance(note, str):
        if not exact or full is None:
            raise ShapeError(f"the rank '{note}' must be a declared dimension or a number", note=label)
        return env.declare(note, derived=full)
    if exact and full is not None and not env.same_dim(note, full):
        raise ShapeError(
            f"an exact {kind} gives '{label}' the dimension {dim_text(full)}; write {label}: NAME to name it",
            note=label,
        )
    if not exact and full is not None:
        # a truncation drops something: strict, so checks draw sizes where it does
        env.constraints.append(DimConstraint(note, "<", full))
    return note
