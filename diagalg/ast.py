"""The syntax tree of a .diag file: plain data with source positions.

Produced by :mod:`diagalg.parser`, consumed by :mod:`diagalg.lower`. Nothing here
knows about dimensions, declarations or diagrams.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Pos:
    line: int
    col: int


NOWHERE = Pos(0, 0)

# --------------------------------------------------------------------------- expressions


class Node:
    pos: Pos


@dataclass(frozen=True)
class Num(Node):
    pos: Pos
    text: str


@dataclass(frozen=True)
class Name(Node):
    """A bare name: a dimension, a tensor bound to its own legs, or a let name."""

    pos: Pos
    name: str


@dataclass(frozen=True)
class Arg(Node):
    """One binding argument: ``label``, ``leg=label``, ``label: dim`` or a selection
    ``leg=3`` (``value`` 3, written at ``value_pos``; ``label`` is then the leg's name)."""

    pos: Pos
    label: str
    leg: str | None = None
    dim: "Node | None" = None
    value: int | None = None
    value_pos: Pos | None = None


@dataclass(frozen=True)
class Target(Node):
    """What a binding binds: a name, wrapped in ``inv``/``conj`` (outermost first)."""

    pos: Pos
    name: str
    wrappers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Bind(Node):
    """``T[args]`` (``args`` None for a bare ``inv(X)``)."""

    pos: Pos
    target: Target
    args: tuple[Arg, ...] | None


@dataclass(frozen=True)
class Delta(Node):
    pos: Pos
    args: tuple[Arg, ...]


@dataclass(frozen=True)
class Zero(Node):
    pos: Pos
    args: tuple[Arg, ...]


@dataclass(frozen=True)
class Shift(Node):
    pos: Pos
    offset: int
    args: tuple[Arg, ...]


@dataclass(frozen=True)
class OneHot(Node):
    """``onehot(v)[i]``: the basis vector e_v (0-based) on one label."""

    pos: Pos
    value: int
    args: tuple[Arg, ...]


@dataclass(frozen=True)
class Summand:
    pos: Pos
    sign: int
    tag: str | None
    tag_pos: Pos | None
    expr: Node


@dataclass(frozen=True)
class Sum(Node):
    pos: Pos
    items: tuple[Summand, ...]


@dataclass(frozen=True)
class Factor:
    op: str  # "" (juxtaposition), "*" or "/"
    expr: Node


@dataclass(frozen=True)
class Product(Node):
    pos: Pos
    factors: tuple[Factor, ...]


@dataclass(frozen=True)
class Power(Node):
    pos: Pos
    base: Node
    exponent: Node


@dataclass(frozen=True)
class Neg(Node):
    pos: Pos
    expr: Node


@dataclass(frozen=True)
class Call(Node):
    """``fn(args)``: sqrt/exp/log/min/pow and the elementwise bubbles."""

    pos: Pos
    fn: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class LabelRef:
    pos: Pos
    name: str


@dataclass(frozen=True)
class AxisCall(Node):
    """``softmax[k](E)``, ``logsumexp[k](E)``, ``layernorm[d](E)``, ``causal[q, k](E)``."""

    pos: Pos
    fn: str
    labels: tuple[LabelRef, ...]
    arg: Node


@dataclass(frozen=True)
class MatrixCall(Node):
    """``inv[k -> i](E)``, ``det[k -> i](E)`` (E read as a map from its labels ``inputs``
    to its labels ``outputs``), and ``inv(E)``, ``det(E)`` (both None: a two-leg E)."""

    pos: Pos
    fn: str
    inputs: tuple[LabelRef, ...] | None
    outputs: tuple[LabelRef, ...] | None
    arg: Node


@dataclass(frozen=True)
class FuncApp(Node):
    """``f[a -> b](E)``; for a primed name ``f'[a -> b, c](E)`` (the derivative of
    ``func f``) ``dlegs`` are the labels after ``b``, one per prime."""

    pos: Pos
    fname: str
    src: LabelRef
    dst: LabelRef
    arg: Node
    dlegs: tuple[LabelRef, ...] = ()


@dataclass(frozen=True)
class Keep(Node):
    pos: Pos
    labels: tuple[LabelRef, ...]
    arg: Node


@dataclass(frozen=True)
class Group(Node):
    pos: Pos
    parts: tuple[LabelRef, ...]
    new: LabelRef
    arg: Node


@dataclass(frozen=True)
class SplitPart:
    pos: Pos
    label: str
    dim: Node


@dataclass(frozen=True)
class Split(Node):
    pos: Pos
    label: LabelRef
    parts: tuple[SplitPart, ...]
    arg: Node


@dataclass(frozen=True)
class Diff(Node):
    pos: Pos
    arg: Node
    wrt: Bind


# --------------------------------------------------------------------------- statements


@dataclass(frozen=True)
class Stmt:
    pos: Pos


@dataclass(frozen=True)
class DimItem:
    pos: Pos
    name: str
    op: str | None = None  # None, "=", "<=", ">=", "<", ">"
    value: Node | None = None


@dataclass(frozen=True)
class DimStmt(Stmt):
    items: tuple[DimItem, ...]


@dataclass(frozen=True)
class LegDecl:
    pos: Pos
    name: str
    dim: Node


@dataclass(frozen=True)
class Prop:
    pos: Pos
    name: str
    inputs: tuple[LabelRef, ...] | None = None  # None: no parentheses
    outputs: tuple[LabelRef, ...] | None = None  # None: no arrow


@dataclass(frozen=True)
class TensorStmt(Stmt):
    name: str
    name_pos: Pos
    legs: tuple[LegDecl, ...]
    props: tuple[Prop, ...]


@dataclass(frozen=True)
class FuncStmt(Stmt):
    name: str
    name_pos: Pos
    src: LegDecl
    dst: LegDecl


@dataclass(frozen=True)
class LetStmt(Stmt):
    name: str
    name_pos: Pos
    labels: tuple[LabelRef, ...] | None
    expr: Node


@dataclass(frozen=True)
class RuleStmt(Stmt):
    name: str
    name_pos: Pos
    lhs: Node
    rhs: Node


@dataclass(frozen=True)
class ByClause:
    pos: Pos
    rules: tuple[LabelRef, ...]


@dataclass(frozen=True)
class AssertStmt(Stmt):
    numeric: bool
    lhs: Node
    op: str
    rhs: Node
    by: ByClause | None


@dataclass(frozen=True)
class ShowStmt(Stmt):
    unfold: bool
    expr: Node
    by: ByClause | None


@dataclass(frozen=True)
class CalcStep:
    pos: Pos
    expr: Node
    by: ByClause | None


@dataclass(frozen=True)
class CalcStmt(Stmt):
    expr: Node
    steps: tuple[CalcStep, ...]


@dataclass(frozen=True)
class ExpandStmt(Stmt):
    kind: str  # "expand" or "paths"
    expr: Node
    over: tuple[LabelRef, ...]
    top: int | None
    metric: Node | None = None  # `top K by M`: rank by the contraction <M, term>


@dataclass(frozen=True)
class CostStmt(Stmt):
    expr: Node


@dataclass(frozen=True)
class DecomposeStmt(Stmt):
    """``decompose KIND T[labels] = F1[...] F2[...] ...`` (``~`` for an approximation)."""

    kind: str
    kind_pos: Pos
    target: str
    target_pos: Pos
    args: tuple[Arg, ...]
    approx: bool
    rhs: Node


@dataclass(frozen=True)
class DrawStmt(Stmt):
    expr: Node
    path: str
    folded: bool = False  # `draw psi to "f.svg" folded`: a let as one box
    values: bool = False  # `draw psi to "f.svg" values`: the arrays behind it below the picture


@dataclass(frozen=True)
class WeightsStmt(Stmt):
    path: str
    layout: str | None = None  # `weights "m.safetensors" as transformerlens`: the checkpoint's naming
    layout_pos: Pos | None = None  # where the layout's name is written (for errors)


@dataclass(frozen=True)
class ImportStmt(Stmt):
    path: str
    path_pos: Pos


@dataclass
class Module:
    """A parsed file: its path, its text (for error display) and its statements."""

    path: str
    text: str
    stmts: list[Stmt] = field(default_factory=list)
