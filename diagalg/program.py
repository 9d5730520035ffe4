"""A checked program: declarations, definitions, rules, and the statements to run.

Produced by :mod:`diagalg.lower`; consumed by the checker, the CLI and the Python
API. Statements hold model expressions (no syntax).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .ast import Pos
from .dims import DimEnv
from .model import Diagram, Expr, FuncDecl, Node, TensorDecl, tensor_op

if TYPE_CHECKING:
    from .decompose import Decomposition
    from .weights import Binding


@dataclass(frozen=True)
class Source:
    """Where a statement came from: file, first line, and its text on one line."""

    path: str
    line: int
    col: int
    text: str


@dataclass(frozen=True)
class Origin:
    """Where a name was declared: the file (as shown), the position, and what it is
    (``"dimension"``, ``"tensor"``, ``"function"``, ``"let"`` or ``"rule"``)."""

    path: str
    pos: Pos
    kind: str


@dataclass(frozen=True)
class LetDef:
    name: str
    labels: tuple[str, ...]
    expr: Expr
    source: Source


@dataclass(frozen=True)
class UserRule:
    name: str
    lhs: Expr
    rhs: Expr
    source: Source


@dataclass(frozen=True)
class AssertStmt:
    source: Source
    lhs: Expr
    rhs: Expr
    op: str  # "==" or "!="
    numeric: bool
    rules: tuple[str, ...]


@dataclass(frozen=True)
class ShowStmt:
    source: Source
    expr: Expr
    unfold: bool
    rules: tuple[str, ...]


@dataclass(frozen=True)
class CalcStep:
    source: Source
    expr: Expr
    rules: tuple[str, ...] | None  # None: no `by` (all default rules)


@dataclass(frozen=True)
class CalcStmt:
    source: Source
    expr: Expr
    steps: tuple[CalcStep, ...]


@dataclass(frozen=True)
class RuleStmt:
    source: Source
    rule: UserRule


@dataclass(frozen=True)
class ExpandStmt:
    """``expand E`` (exact expansion) or ``paths E`` (the paper's path expansion)."""

    source: Source
    expr: Expr
    kind: str  # "expand" or "paths"
    over: tuple[tuple[str, int], ...] = ()  # labels split into one term per value, with their sizes
    top: int | None = None  # list only the `top` largest terms (by Frobenius norm, or by the metric)
    metric: Expr | None = None  # `top K by M`: rank by the signed contribution <M, term>


@dataclass(frozen=True)
class DecomposeStmt:
    """``decompose KIND T[...] = factors`` (or ``~``): checked by computing the factors
    on random draws; ``lhs`` is the target bound to its labels, ``rhs`` the product."""

    source: Source
    decomposition: Decomposition
    lhs: Expr
    rhs: Expr


@dataclass(frozen=True)
class CostStmt:
    """``cost E``: contraction order, FLOPs and peak memory of E."""

    source: Source
    expr: Expr


@dataclass(frozen=True)
class DrawStmt:
    """``draw E to "f.svg"``: ``path`` is the file named (relative to the .diag file's
    directory), ``target`` the resolved path that running the statement writes."""

    source: Source
    expr: Expr
    path: str
    target: str
    folded: bool = False  # ``draw psi to "f.svg" folded``: a bare let drawn as one box
    values: bool = False  # ``draw psi to "f.svg" values``: the arrays behind it drawn below


RunStmt = AssertStmt | ShowStmt | CalcStmt | RuleStmt | ExpandStmt | DecomposeStmt | CostStmt | DrawStmt


@dataclass
class Program:
    """Everything a .diag file (with its imports) declares, and what it runs."""

    path: str
    env: DimEnv = field(default_factory=DimEnv)
    tensors: dict[str, TensorDecl] = field(default_factory=dict)
    funcs: dict[str, FuncDecl] = field(default_factory=dict)
    lets: dict[str, LetDef] = field(default_factory=dict)
    rules: dict[str, UserRule] = field(default_factory=dict)
    #: rules every proof uses without `by`: the exact decompositions (target -> factors)
    auto_rules: list[str] = field(default_factory=list)
    #: stated decompositions by rule name (diagalg.decompose.Decomposition)
    decompositions: dict[str, Decomposition] = field(default_factory=dict)
    statements: list[RunStmt] = field(default_factory=list)
    weights: list[tuple[str, Source]] = field(default_factory=list)
    #: arrays bound by `weights` statements (or --weights): a diagalg.weights.Binding
    binding: Binding | None = None
    #: where every declared name (dimension, tensor, function, let, rule) was declared:
    #: one namespace across the file and its imports
    origins: dict[str, Origin] = field(default_factory=dict)
    #: summand tags used so far: a tag names one summand in the whole file
    tags: set[str] = field(default_factory=set)
    #: imported files (resolved paths), each read once however often it is imported
    imported: set[Path] = field(default_factory=set)

    def __getitem__(self, name: str) -> Expr:
        """The expression a name stands for: a let's definition, or a tensor on its own legs.
        Raises KeyError for any other name."""
        if name in self.lets:
            return self.lets[name].expr
        decl = self.tensors[name]
        node = Node(tensor_op(decl), decl.legs)
        return Expr.single(Diagram.build([node], dict(zip(decl.legs, decl.dims)), {leg: leg for leg in decl.legs}))

    def expr(self, text: str) -> Expr:
        """Parse ``text`` as an expression in this program's declarations.

        The model does not know the parser: the front end registers itself
        (:func:`register_front_end`, done when :mod:`diagalg.lower` is imported, as
        ``diagalg.parse`` and ``diagalg.load`` do), so the data flows text → front end
        → model and the model imports nothing above it."""
        if _FRONT_END is None:
            raise RuntimeError("no front end is registered: import diagalg.lower (diagalg.parse and diagalg.load do)")
        return _FRONT_END(self, text)

    @property
    def assertions(self) -> list[AssertStmt]:
        return [s for s in self.statements if isinstance(s, AssertStmt)]


#: The function that parses expression text in a program's declarations (see Program.expr).
_FRONT_END: Callable[[Program, str], Expr] | None = None


def register_front_end(parse: Callable[[Program, str], Expr]) -> None:
    """Make ``parse(program, text)`` the parser behind :meth:`Program.expr`."""
    global _FRONT_END
    _FRONT_END = parse
