"""The semantic pass: syntax tree -> :class:`~diagalg.program.Program` of model expressions.

Two stages per statement. Stage A walks the syntax tree, resolves names (a name is
a dimension, a tensor, a let or a function), checks leg counts and records every
label's dimension statement-wide (binding one label to legs of different
dimensions is an error). Stage B builds diagrams with einsum's label convention:
within one product term a label used once is free and a label used two or more
times is summed (three or more uses make a hyperedge). A parenthesised sum is
flattened into its product as einsum would after distributing it (it becomes a
box node whose ports are the labels it shares with the rest of the product);
bubbles, ``keep``, ``group``/``split``, ``diff`` and ``let`` bodies are scopes:
only their result's free labels connect outward.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import sympy

from . import ast as A
from .dims import DimConstraint, dim_text
from .errors import SourceError
from .model import (
    BoxOp,
    BubbleOp,
    CopyTensor,
    DerivOp,
    Diagram,
    Expr,
    FuncDecl,
    Node,
    ReshapeOp,
    ShiftOp,
    TensorDecl,
    TensorOp,
    Term,
    fresh_name,
    inline_diagram,
    resolve_merges,
    tensor_op,
)
from .parser import MAX_NUMBER_DIGITS, parse_text
from .program import (
    AssertStmt,
    CalcStep,
    CalcStmt,
    CostStmt,
    DecomposeStmt,
    ExpandStmt,
    LetDef,
    Program,
    RuleStmt,
    ShowStmt,
    Source,
    UserRule,
)

BUILTIN_RULES = ("delta", "isometry", "inverse", "cyclic", "gauge", "shift", "distribute",
                 "collect", "symmetry", "reshape", "derivative")
PROPERTY_NAMES = ("symmetric", "antisymmetric", "isometry", "unitary", "invertible",
                  "projector", "posdef", "complex")
_ONE = sympy.Integer(1)


def _err(msg: str, pos: A.Pos) -> SourceError:
    return SourceError(msg, pos.line, pos.col)


def _check_leg_symmetry(decl: TensorDecl, group_pos: list[tuple[tuple[str, ...], A.Pos]],
                        subs: dict[sympy.Symbol, sympy.Expr]) -> None:
    """Refuse, at the offending symmetric/antisymmetric property, leg symmetries
    that force the tensor to be zero (a component mixing symmetric and
    antisymmetric groups, more antisymmetric legs than their concrete dimension,
    an antisymmetric Hermitian matrix) or that the sampler cannot honour with
    the declared map structure (all but a symmetric invertible, posdef or
    projector matrix): no tensor is ever sampled without its declared meaning."""
    for legs, sign in decl.leg_symmetry:
        inside = [(g, pos) for g, pos in group_pos if set(g) <= set(legs)]
        at = inside[-1][1]
        if sign == 0:
            raise _err(f"a leg cannot be both symmetric and antisymmetric: mixing them on legs "
                       f"{', '.join(legs)} forces '{decl.name}' to be zero", at)
        size = decl.leg_dim(legs[0]).subs(subs)
        if sign < 0 and size.is_Integer and len(legs) > int(size):
            raise _err(f"'{decl.name}' is antisymmetric in {len(legs)} legs of dimension {size}, "
                       "so it is identically zero", at)
    kind = decl.structure
    if kind is None or not group_pos or (decl.symmetric_matrix and kind in ("invertible", "posdef", "projector")):
        return
    at = group_pos[0][1]
    if decl.hermitian and len(decl.legs) == 2 and any(sign < 0 for _, sign in decl.leg_symmetry):
        why = ("is zero (its trace, which is its rank, is 0)" if kind == "projector"
               else "is impossible (its diagonal must be positive)")
        raise _err(f"an antisymmetric {kind} matrix {why}", at)
    raise _err(f"'{kind}' combined with these leg symmetries is not supported", at)


# =========================================================================== IR (stage A)


@dataclass
class IAtom:
    """A node-like factor with its ports bound to labels; ``build`` makes the op."""

    pos: A.Pos
    labels: list[str]
    build: Callable[["_Scope"], object]
    label_pos: list[A.Pos] = field(default_factory=list)


@dataclass
class IScoped:
    """A factor whose argument is a scope (bubble, keep, group, split, diff, let)."""

    pos: A.Pos
    build: Callable[["_Scope"], tuple[Expr, object]]  # -> (inner expr for free labels, op or None)


@dataclass
class ISummand:
    pos: A.Pos
    sign: int
    tag: str | None
    prod: "IProd"


@dataclass
class ISum:
    pos: A.Pos
    summands: list[ISummand]

    def mentioned_all(self) -> Counter:
        """Every label used anywhere in the summands (max count over summands)."""
        c: Counter = Counter()
        for s in self.summands:
            c |= s.prod.mentioned()
        return c


@dataclass
class IProd:
    pos: A.Pos
    coeff: sympy.Expr = _ONE
    atoms: list = field(default_factory=list)  # IAtom | ISum | IScopedAtom

    def free_within(self, label: str) -> bool:
        """True when ``label`` is used exactly once in this product (after distribution)."""
        counts: Counter = Counter()
        for own in exposed_uses(self, Counter(), set()):
            counts.update(own)
        return counts[label] == 1

    def mentioned(self) -> Counter:
        """Label uses in this product, flattening parenthesised sums (max over summands)."""
        c: Counter = Counter()
        for a in self.atoms:
            if isinstance(a, IAtom):
                c.update(a.labels)
            elif isinstance(a, ISum):
                inner: Counter = Counter()
                for s in a.summands:
                    inner |= s.prod.mentioned()
                c.update(inner)
            else:
                c.update(a.labels)
        return c


@dataclass
class IScopedAtom:
    """A scoped factor after its labels are known: ``labels`` are its result's free labels."""

    pos: A.Pos
    labels: list[str]
    make: Callable[["_Scope"], tuple[Expr, Callable[[Expr], object] | None]]
    label_pos: list[A.Pos] = field(default_factory=list)


def exposed_uses(prod: IProd, outside: Counter, forced: set[str]) -> list[Counter]:
    """Label uses of each factor of ``prod`` as einsum sees them after distributing.

    A node-like factor uses each label it binds. A parenthesised sum exposes a
    label when something outside it uses that label (another factor, an
    enclosing product, or a kept output), or when the label is free within one
    of its summands; a label summed entirely inside a summand stays inside.
    """
    raw = [a.mentioned_all() if isinstance(a, ISum) else Counter(a.labels) for a in prod.atoms]
    total: Counter = Counter()
    for r in raw:
        total.update(r)
    out: list[Counter] = []
    for a, r in zip(prod.atoms, raw):
        if not isinstance(a, ISum):
            out.append(r)
            continue
        exposed = Counter()
        for l in r:
            others = total[l] - r[l] + outside[l] + (1 if l in forced else 0)
            if others > 0 or any(s.prod.free_within(l) for s in a.summands):
                exposed[l] = 1
        out.append(exposed)
    return out


# =========================================================================== program building


class _Loader:
    """Loads a file and its imports into one Program."""

    def __init__(self) -> None:
        self.loading: list[Path] = []
        self.loaded: dict[Path, "_FileState"] = {}

    def load_file(self, path: Path, display: str, program: Program | None = None,
                  run_statements: bool = True) -> Program:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raw = path.read_bytes()
            line = raw[: e.start].count(b"\n") + 1
            line_start = raw.rfind(b"\n", 0, e.start) + 1
            col = len(raw[line_start:e.start].decode("utf-8", errors="replace")) + 1
            shown = raw.decode("utf-8", errors="replace")  # the line is shown with U+FFFD for bad bytes
            raise SourceError("file is not UTF-8 text", line, col, display, shown) from None
        # a byte-order mark (written by some editors) is not part of the text
        return self.load_text(text.removeprefix("\ufeff"), display, path, program, run_statements)

    def load_text(self, text: str, display: str, path: Path | None, program: Program | None = None,
                  run_statements: bool = True) -> Program:
        module = parse_text(text, display)
        program = program if program is not None else Program(display)
        if sys.getrecursionlimit() < 20_000:
            # nested expressions are lowered recursively; brackets are capped at
            # parser.MAX_NESTING, so this bound is reached only by pathological input
            sys.setrecursionlimit(20_000)
        state = _FileState(self, program, module, path, run_statements)
        if path is not None:
            self.loading.append(path.resolve())
        try:
            state.run()
        except SourceError as e:
            raise e.located(display, text) from None
        except RecursionError:
            raise SourceError("expression nested too deeply", 1, 1).located(display, text) from None
        finally:
            if path is not None:
                self.loading.pop()
        return program


@dataclass
class _Origin:
    path: str
    pos: A.Pos
    kind: str


class _FileState:
    def __init__(self, loader: _Loader, program: Program, module: A.Module, path: Path | None,
                 run_statements: bool) -> None:
        self.loader = loader
        self.program = program
        self.module = module
        self.path = path
        self.run_statements = run_statements
        self.lines = module.text.splitlines()
        if not hasattr(program, "_origins"):
            program._origins = {}  # type: ignore[attr-defined]
            program._tags = set()  # type: ignore[attr-defined]
            program._imported = set()  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ helpers
    @property
    def origins(self) -> dict[str, _Origin]:
        return self.program._origins  # type: ignore[attr-defined]

    def source(self, pos: A.Pos, end_line: int | None = None) -> Source:
        """The statement's text on one line: its lines up to ``end_line`` (default: up to
        the next statement), comments and continuation backslashes removed."""
        line = pos.line
        last = end_line if end_line is not None else self.next_line.get(line, line + 1) - 1
        parts = []
        for k in range(line, max(last, line) + 1):
            if not 0 < k <= len(self.lines):
                break
            t = self.lines[k - 1].split("#", 1)[0].strip()
            if k > line and t.startswith("=") and end_line is None and self._in_calc:
                break
            if t.endswith("\\"):
                t = t[:-1].rstrip()
            if t:
                parts.append(" ".join(t.split()))
        return Source(self.module.path, line, pos.col, " ".join(parts))

    def declare(self, name: str, pos: A.Pos, kind: str) -> None:
        if name in self.origins:
            o = self.origins[name]
            where = f"line {o.pos.line}" if o.path == self.module.path else f"{o.path}:{o.pos.line}"
            raise _err(f"'{name}' is already declared (as a {o.kind}, {where})", pos)
        self.origins[name] = _Origin(self.module.path, pos, kind)

    # ------------------------------------------------------------------ statements
    def run(self) -> None:
        starts = sorted({st.pos.line for st in self.module.stmts} | {
            step.pos.line for st in self.module.stmts if isinstance(st, A.CalcStmt) for step in st.steps})
        self.next_line = {a: b for a, b in zip(starts, starts[1:] + [len(self.lines) + 1])}
        self._in_calc = False
        for stmt in self.module.stmts:
            self._in_calc = isinstance(stmt, A.CalcStmt)
            handler = getattr(self, "stmt_" + type(stmt).__name__)
            try:
                handler(stmt)
            except RecursionError:
                raise _err("expression nested too deeply", stmt.pos) from None

    def stmt_ImportStmt(self, s: A.ImportStmt) -> None:
        if self.path is None:
            base = Path(os.getcwd())
        else:
            base = self.path.parent
        target = (base / s.path).resolve()
        if target in self.loader.loading:
            chain = " -> ".join(p.name for p in self.loader.loading + [target])
            raise _err(f"cyclic import: {chain}", s.path_pos)
        if not target.is_file():
            raise _err(f"cannot import \"{s.path}\": no such file", s.path_pos)
        imported = self.program._imported  # type: ignore[attr-defined]
        if target in imported:
            return
        imported.add(target)
        display = os.path.relpath(target) if not os.path.isabs(s.path) else str(target)
        try:
            self.loader.load_file(target, display, self.program, run_statements=False)
        except SourceError as e:
            if e.path == display:
                # report the imported file's own error where it is; the caller sees it as is
                raise
            raise

    def stmt_DimStmt(self, s: A.DimStmt) -> None:
        env = self.program.env
        for item in s.items:
            if item.op is None:
                self.declare(item.name, item.pos, "dimension")
                env.declare(item.name)
            elif item.op == "=":
                value = self.scalar(item.value)
                self.declare(item.name, item.pos, "dimension")
                value_s = sympy.sympify(value)
                if value_s.is_Integer:
                    if int(value_s) < 1:
                        raise _err(f"dimension '{item.name}' must be a positive integer", item.value.pos)
                    env.declare(item.name, value=int(value_s))
                elif value_s.free_symbols and all(v in env.symbols.values() for v in value_s.free_symbols):
                    env.declare(item.name, derived=value_s)
                else:
                    raise _err(f"dimension '{item.name}' must be a positive integer", item.value.pos)
            else:
                value = self.scalar(item.value)
                self.declare(item.name, item.pos, "dimension")
                sym = env.declare(item.name)
                env.constraints.append(DimConstraint(sym, item.op, sympy.sympify(value)))

    def dim_expr(self, node: A.Node) -> sympy.Expr:
        value = sympy.sympify(self.scalar(node))
        if value.as_numer_denom()[1] != 1 or any(not a.is_Integer for a in value.atoms(sympy.Number)) \
                or value.atoms(sympy.Function):
            raise _err("a dimension is built from dimension names and positive integers with + and *",
                       node.pos)
        subs = self.program.env.concrete_subs()
        v = value.subs(subs)
        if v.is_number and (not v.is_Integer or int(v) < 1):
            raise _err(f"a dimension must be a positive integer, not {v}", node.pos)
        return value

    def stmt_TensorStmt(self, s: A.TensorStmt) -> None:
        legs: list[str] = []
        dims: list[sympy.Expr] = []
        for leg in s.legs:
            if leg.name in legs:
                raise _err(f"tensor '{s.name}' has two legs named '{leg.name}'", leg.pos)
            legs.append(leg.name)
            dims.append(self.dim_expr(leg.dim))
        decl = self.tensor_properties(s, tuple(legs), tuple(dims))
        self.declare(s.name, s.name_pos, "tensor")
        self.program.tensors[s.name] = decl

    def tensor_properties(self, s: A.TensorStmt, legs: tuple[str, ...], dims: tuple[sympy.Expr, ...]) -> TensorDecl:
        env = self.program.env
        symmetric: list[tuple[str, ...]] = []
        antisym: list[tuple[str, ...]] = []
        structure: str | None = None
        inputs: tuple[str, ...] = ()
        outputs: tuple[str, ...] = ()
        is_complex = False
        seen: set[str] = set()
        group_pos: list[tuple[tuple[str, ...], A.Pos]] = []

        def leg_names(refs: Iterable[A.LabelRef]) -> tuple[str, ...]:
            out = []
            for r in refs:
                if r.name not in legs:
                    raise _err(f"tensor '{s.name}' has no leg '{r.name}'", r.pos)
                if r.name in out:
                    raise _err(f"leg '{r.name}' listed twice", r.pos)
                out.append(r.name)
            return tuple(out)

        def prod_dim(group: tuple[str, ...]) -> sympy.Expr:
            return sympy.Mul(*[dims[legs.index(l)] for l in group])

        for p in s.props:
            if p.name not in PROPERTY_NAMES:
                raise _err(f"unknown property '{p.name}' (known: {', '.join(PROPERTY_NAMES)})", p.pos)
            if p.name in seen and p.name not in ("symmetric", "antisymmetric"):
                raise _err(f"property '{p.name}' given twice", p.pos)
            seen.add(p.name)
            if p.name == "complex":
                if p.inputs is not None:
                    raise _err("'complex' takes no legs", p.pos)
                is_complex = True
            elif p.name in ("symmetric", "antisymmetric"):
                group = leg_names(p.inputs) if p.inputs else legs
                if p.outputs is not None:
                    raise _err(f"'{p.name}' takes a list of legs, not a map", p.pos)
                if len(group) < 2:
                    raise _err(f"'{p.name}' needs at least two legs", p.pos)
                d0 = dims[legs.index(group[0])]
                for l in group[1:]:
                    if not env.same_dim(dims[legs.index(l)], d0):
                        raise _err(f"'{p.name}' legs must have one dimension ('{group[0]}' and '{l}' differ)", p.pos)
                (symmetric if p.name == "symmetric" else antisym).append(group)
                group_pos.append((group, p.pos))
            else:
                if structure is not None:
                    raise _err(f"'{p.name}' cannot be combined with '{structure}'", p.pos)
                structure = p.name
                if p.inputs is None or (not p.inputs and p.outputs is None):
                    if p.name == "posdef" or p.name in ("invertible", "unitary", "projector"):
                        if len(legs) != 2:
                            raise _err(f"'{p.name}' without a map needs exactly two legs "
                                       f"(write {p.name}(in -> out))", p.pos)
                        inputs, outputs = (legs[1],), (legs[0],)
                    else:
                        raise _err(f"'{p.name}' needs a map: {p.name}(in -> out)", p.pos)
                else:
                    if p.outputs is None:
                        raise _err(f"'{p.name}' needs a map: {p.name}(in -> out)", p.pos)
                    if p.name == "posdef":
                        raise _err("'posdef' takes no map", p.pos)
                    inputs, outputs = leg_names(p.inputs), leg_names(p.outputs)
                    both = set(inputs) & set(outputs)
                    if both:
                        raise _err(f"leg '{sorted(both)[0]}' is both an input and an output", p.pos)
                    if set(inputs) | set(outputs) != set(legs):
                        missing = [l for l in legs if l not in inputs and l not in outputs]
                        raise _err(f"'{p.name}' must use every leg; '{missing[0]}' is missing", p.pos)
                if p.name in ("unitary", "invertible", "projector", "posdef"):
                    if not env.same_dim(prod_dim(inputs), prod_dim(outputs)):
                        raise _err(f"'{p.name}' needs inputs and outputs of equal total dimension", p.pos)
                if p.name == "projector" and len(inputs) != len(outputs):
                    raise _err("'projector' needs as many input legs as output legs", p.pos)
        if structure in ("projector", "posdef") and len(inputs) == 1:
            if not env.same_dim(dims[legs.index(inputs[0])], dims[legs.index(outputs[0])]):
                raise _err(f"'{structure}' legs must have one dimension", s.pos)
        if structure == "isometry":
            subs = env.concrete_subs()
            din, dout = prod_dim(inputs).subs(subs), prod_dim(outputs).subs(subs)
            if din.is_number and dout.is_number and din > dout:
                raise _err("an isometry maps to a space at least as large as its input "
                           f"({din} > {dout})", s.pos)
        decl = TensorDecl(s.name, legs, dims, tuple(symmetric), tuple(antisym), structure,
                          inputs, outputs, is_complex)
        _check_leg_symmetry(decl, group_pos, env.concrete_subs())
        return decl

    def stmt_FuncStmt(self, s: A.FuncStmt) -> None:
        self.declare(s.name, s.name_pos, "function")
        self.program.funcs[s.name] = FuncDecl(s.name, s.src.name, self.dim_expr(s.src.dim),
                                              s.dst.name, self.dim_expr(s.dst.dim))

    def stmt_LetStmt(self, s: A.LetStmt) -> None:
        sc = _Scope(self, s.pos)
        listed = None
        if s.labels is not None:
            listed = []
            for r in s.labels:
                if r.name in listed:
                    raise _err(f"label '{r.name}' listed twice", r.pos)
                listed.append(r.name)
        expr = sc.lower_top(s.expr, outputs=listed, output_pos={r.name: r.pos for r in (s.labels or ())})
        labels = tuple(listed) if listed is not None else tuple(sc.first_seen_order(expr.labels))
        self.declare(s.name, s.name_pos, "let")
        self.program.lets[s.name] = LetDef(s.name, labels, expr, self.source(s.pos))

    def stmt_RuleStmt(self, s: A.RuleStmt) -> None:
        sc = _Scope(self, s.pos)
        lhs, rhs = sc.lower_pair(s.lhs, s.rhs)
        if s.name in BUILTIN_RULES:
            raise _err(f"'{s.name}' is a built-in rule name", s.name_pos)
        self.declare(s.name, s.name_pos, "rule")
        rule = UserRule(s.name, lhs, rhs, self.source(s.pos))
        from .rules.user import UserRuleRewriter

        try:
            UserRuleRewriter(rule)
        except ValueError as e:
            raise _err(f"rule '{s.name}' cannot be used as a rewrite: {e}", s.name_pos) from None
        self.program.rules[s.name] = rule
        if self.run_statements:
            self.program.statements.append(RuleStmt(self.source(s.pos), rule))

    def rule_names(self, by: A.ByClause | None) -> tuple[str, ...]:
        if by is None:
            return ()
        from .rules import implemented_rules

        out = []
        for r in by.rules:
            if r.name in self.program.rules:
                out.append(r.name)
            elif r.name in implemented_rules():
                out.append(r.name)
            else:
                known = sorted(set(implemented_rules()) | set(self.program.rules))
                raise _err(f"unknown rule '{r.name}' (known: {', '.join(known)})", r.pos)
        return tuple(out)

    def stmt_AssertStmt(self, s: A.AssertStmt) -> None:
        sc = _Scope(self, s.pos)
        lhs, rhs = sc.lower_pair(s.lhs, s.rhs)
        rules = self.rule_names(s.by)
        if self.run_statements:
            self.program.statements.append(AssertStmt(self.source(s.pos), lhs, rhs, s.op, s.numeric, rules))

    def stmt_ShowStmt(self, s: A.ShowStmt) -> None:
        sc = _Scope(self, s.pos)
        expr = sc.lower_top(s.expr)
        rules = self.rule_names(s.by)
        if self.run_statements:
            self.program.statements.append(ShowStmt(self.source(s.pos), expr, s.unfold, rules))

    def stmt_CalcStmt(self, s: A.CalcStmt) -> None:
        sc = _Scope(self, s.pos)
        exprs = sc.lower_many([s.expr] + [st.expr for st in s.steps])
        steps = tuple(CalcStep(self.source(st.pos), e, self.rule_names(st.by) if st.by else None)
                      for st, e in zip(s.steps, exprs[1:]))
        if self.run_statements:
            self.program.statements.append(CalcStmt(self.source(s.pos), exprs[0], steps))

    def stmt_ExpandStmt(self, s: A.ExpandStmt) -> None:
        expr = _Scope(self, s.pos).lower_top(s.expr)
        if s.top is not None and s.top < 1:
            raise _err(f"top {s.top}: the number of terms must be at least 1", s.pos)
        over = tuple((ref.name, self.over_size(expr, ref)) for ref in s.over)
        if self.run_statements:
            self.program.statements.append(ExpandStmt(self.source(s.pos), expr, s.kind, over, s.top))

    def over_size(self, expr, ref: A.LabelRef) -> int:
        """The concrete size of the summed label ``ref`` somewhere in ``expr`` (lets unfolded)."""
        from .engine import unfold

        if ref.name in expr.labels:
            raise _err(f"over {ref.name}: '{ref.name}' is a free label of the expression; "
                       "only a summed label can be split", ref.pos)
        subs = self.program.env.concrete_subs()
        dims = set()
        for t in _all_terms(unfold(expr)):
            free = set(t.diagram.free_map.values())
            for e, d in t.diagram.edge_dims:
                if e.split("~")[0] == ref.name and e not in free:
                    dims.add(sympy.sympify(d).xreplace(subs))
        if not dims:
            raise _err(f"over {ref.name}: no summed label '{ref.name}' in this expression", ref.pos)
        bad = [d for d in dims if not d.is_Integer]
        if bad or len(dims) > 1:
            raise _err(f"over {ref.name}: '{ref.name}' must have one concrete dimension (found "
                       f"{', '.join(sorted(str(d) for d in dims))})", ref.pos)
        return int(next(iter(dims)))

    def stmt_DecomposeStmt(self, s: A.DecomposeStmt) -> None:
        from .decompose import Decomposition, FactorUse, ShapeError, analyse, factor_decl
        from .rules.user import UserRuleRewriter

        env = self.program.env
        target = self.program.tensors.get(s.target)
        if target is None:
            what = "a let" if s.target in self.program.lets else "not declared"
            raise _err(f"decompose needs a declared tensor; '{s.target}' is {what}", s.target_pos)
        if len(s.args) != len(target.legs):
            raise _err(f"bind each of {s.target}'s {len(target.legs)} legs to a label", s.target_pos)
        tlabels: list[str] = []
        for a in s.args:
            if a.leg is not None or a.dim is not None:
                raise _err("bind the target's legs to plain labels, in declared order", a.pos)
            if a.label in tlabels:
                raise _err(f"label '{a.label}' is used twice on the target", a.pos)
            tlabels.append(a.label)
        items = s.rhs.factors if isinstance(s.rhs, A.Product) else (A.Factor("", s.rhs),)
        uses: list[FactorUse] = []
        use_pos: list[A.Pos] = []
        label_pos: dict[str, A.Pos] = {}
        label_last: dict[str, A.Pos] = {}
        annotations: dict[str, A.Node] = {}
        for f in items:
            e = f.expr
            if f.op or not isinstance(e, A.Bind) or not e.args or e.target.wrappers not in ((), ("conj",)):
                raise _err("a decomposition's right side is a product of new tensors bound to labels, "
                           "like U[i, r] s[r] conj(V)[j, r]", getattr(e, "pos", s.rhs.pos))
            if e.target.name in self.origins and e.target.name not in {u.name for u in uses}:
                o = self.origins[e.target.name]
                raise _err(f"'{e.target.name}' is already declared (as a {o.kind}, line {o.pos.line}); "
                           "a decomposition introduces new tensors", e.pos)
            for a in e.args:
                if a.leg is not None:
                    raise _err("bind a new factor's legs by position", a.pos)
                label_pos.setdefault(a.label, a.pos)
                label_last[a.label] = a.pos
                if a.dim is not None:
                    if a.label in tlabels:
                        raise _err(f"'{a.label}' is a leg of {s.target}: its dimension is already known", a.pos)
                    if a.label in annotations:
                        raise _err(f"the dimension of '{a.label}' is already written", a.pos)
                    annotations[a.label] = a.dim
            uses.append(FactorUse(e.target.name, bool(e.target.wrappers), tuple(a.label for a in e.args)))
            use_pos.append(e.pos)
        exact = not s.approx
        try:
            shape = analyse(s.kind, exact, target, tlabels, uses)
        except ShapeError as e:
            pos = s.kind_pos
            if e.factor is not None:
                pos = use_pos[e.factor]
            elif e.label is not None:
                pos = label_last.get(e.label, s.target_pos)
            raise _err(str(e), pos) from None
        rule_name = f"{s.kind}_{s.target}"
        if exact:
            earlier = [d for d in self.program.decompositions.values()
                       if d.exact and d.target.name == s.target]  # type: ignore[attr-defined]
            if earlier:
                raise _err(f"'{s.target}' already has an exact decomposition ({earlier[0].kind}); "  # type: ignore[attr-defined]
                           "proofs unfold it, so a second one could not be used", s.pos)
        k = 2
        while rule_name in self.origins:
            rule_name, k = f"{s.kind}_{s.target}_{k}", k + 1
        dims: dict[str, sympy.Expr] = dict(zip(tlabels, target.dims))
        bonds: list[tuple[str, sympy.Expr]] = []
        for label in dict.fromkeys(l for use in uses for l in use.labels if l not in dims):
            dims[label] = self.bond_dim(s.kind, exact, label, shape.full_rank.get(label),
                                        annotations.get(label), label_pos[label])
            bonds.append((label, dims[label]))
        for a, op, b in shape.needs:
            env.constraints.append(DimConstraint(a, op, b))
        dec = Decomposition(s.kind, exact, target, tuple(tlabels), tuple(uses), tuple(bonds), rule_name)
        for role in shape.roles:
            at = use_pos[next(i for i, u in enumerate(uses) if u.name == role.name)]
            self.declare(role.name, at, "tensor")
            self.program.tensors[role.name] = factor_decl(role, dims, target, dec)
        lhs_node = A.Bind(s.target_pos, A.Target(s.target_pos, s.target), s.args)
        lhs, rhs = _Scope(self, s.pos).lower_pair(lhs_node, s.rhs)
        self.program.decompositions[rule_name] = dec
        self.declare(rule_name, s.kind_pos, "rule")
        if exact:
            sides = [(rule_name, lhs, rhs)]
            if target.is_complex:
                flip = tuple(A.Factor("", A.Bind(f.expr.pos, A.Target(f.expr.target.pos, f.expr.target.name,
                                                                     () if f.expr.target.wrappers else ("conj",)),
                                                 f.expr.args)) for f in items)
                conj_lhs = A.Bind(s.target_pos, A.Target(s.target_pos, s.target, ("conj",)), s.args)
                clhs, crhs = _Scope(self, s.pos).lower_pair(conj_lhs, A.Product(s.rhs.pos, flip))
                sides.append((rule_name + "_conj", clhs, crhs))
            for name, a, b in sides:
                rule = UserRule(name, a, b, self.source(s.pos))
                UserRuleRewriter(rule)
                self.program.rules[name] = rule
                self.program.auto_rules.append(name)
        if self.run_statements:
            self.program.statements.append(DecomposeStmt(self.source(s.pos), dec, lhs, rhs))

    def bond_dim(self, kind: str, exact: bool, label: str, full: sympy.Expr | None,
                 note: A.Node | None, pos: A.Pos) -> sympy.Expr:
        """The dimension of a new bond of a decomposition: written as ``label: NOTE`` (a new
        name is declared as the full rank of an exact decomposition; a declared dimension
        or number is the rank of a truncation, strictly below the full rank), or the full
        rank itself where it is a plain dimension."""
        env = self.program.env
        if note is None:
            if exact and full is not None and not full.has(sympy.Min):
                return full
            hint = f" ({label}: R names it R = {dim_text(full)})" if exact and full is not None else \
                f" (the rank, e.g. {label}: q with `dim q` declared)"
            raise _err(f"write the dimension of the new bond '{label}' where it is first used{hint}", pos)
        if isinstance(note, A.Name) and note.name not in env.symbols and note.name not in self.origins:
            if not exact or full is None:
                raise _err(f"the rank '{note.name}' must be a declared dimension or a number", note.pos)
            self.declare(note.name, note.pos, "dimension")
            return env.declare(note.name, derived=full)
        d = self.dim_expr(note)
        if exact and full is not None and not env.same_dim(d, full):
            raise _err(f"an exact {kind} gives '{label}' the dimension {dim_text(full)}; "
                       f"write {label}: NAME to name it", note.pos)
        if not exact and full is not None:
            # a truncation drops something: strict, so checks draw sizes where it does
            env.constraints.append(DimConstraint(d, "<", full))
        return d

    def stmt_CostStmt(self, s: A.CostStmt) -> None:
        from .cost import CostError, network
        from .engine import unfold

        expr = _Scope(self, s.pos).lower_top(s.expr)
        try:
            for t in unfold(expr).terms:
                network(t.diagram, self.program.env)
        except CostError as e:
            raise _err(str(e), s.pos) from None
        if self.run_statements:
            self.program.statements.append(CostStmt(self.source(s.pos), unfold(expr)))

    def stmt_DrawStmt(self, s: A.DrawStmt) -> None:
        from .program import DrawStmt
        from .render import EXTENSIONS

        expr = _Scope(self, s.pos).lower_top(s.expr)
        if Path(s.path).suffix.lower() not in EXTENSIONS:
            raise _err(f"draw: unknown drawing format '{Path(s.path).suffix}' for \"{s.path}\" "
                       f"(use {', '.join(sorted(EXTENSIONS))})", s.pos)
        base = Path(os.getcwd()) if self.path is None else self.path.parent
        if self.run_statements:
            self.program.statements.append(DrawStmt(self.source(s.pos), expr, s.path, str(base / s.path)))

    def stmt_WeightsStmt(self, s: A.WeightsStmt) -> None:
        from .weights import Binding, WeightsError, bind, load_arrays

        base = Path(os.getcwd()) if self.path is None else self.path.parent
        target = base / s.path
        try:
            arrays = load_arrays(target, s.path)
            self.program.binding = bind(arrays, self.program.tensors, self.program.env, s.path,
                                        self.program.binding or Binding())  # type: ignore[arg-type]
        except WeightsError as e:
            raise _err(str(e), s.pos) from None
        self.program.weights.append((s.path, self.source(s.pos)))

    # ------------------------------------------------------------------ scalars
    def scalar(self, node: A.Node) -> sympy.Expr:
        """A pure scalar expression (numbers, dimensions, sqrt/exp/log/min)."""
        sc = _Scope(self, node.pos)
        value = sc.try_scalar(node)
        if value is None:
            raise _err("expected a scalar expression (numbers and dimension names)", node.pos)
        return value


# =========================================================================== stage A + B


#: Largest exponent of a scalar power (``n ** k``): sizes and coefficients are
#: computed exactly, and 7 ** 100000000 would take minutes.
MAX_EXPONENT = 10_000
#: Most bits of a number's numerator or denominator, about MAX_NUMBER_DIGITS digits.
_MAX_BITS = int(MAX_NUMBER_DIGITS * 3.33)


def _bounded(value: sympy.Expr, pos: A.Pos) -> sympy.Expr:
    """``value``, unless a number in it has more than MAX_NUMBER_DIGITS digits."""
    for num in value.atoms(sympy.Rational):
        if max(int(num.p).bit_length(), int(num.q).bit_length()) > _MAX_BITS:
            raise _err(f"number too long (more than {MAX_NUMBER_DIGITS} digits)", pos)
    return value


def _power(base: sympy.Expr, exponent: sympy.Expr, pos: A.Pos) -> sympy.Expr:
    """``base ** exponent``, refusing (before computing it) an exponent above
    MAX_EXPONENT or a result with more than MAX_NUMBER_DIGITS digits."""
    if exponent.is_Number and abs(exponent) > MAX_EXPONENT:
        raise _err(f"exponent too large (at most {MAX_EXPONENT})", pos)
    if exponent.is_Integer and base.is_Rational:
        bits = max(int(base.p).bit_length(), int(base.q).bit_length()) * abs(int(exponent))
        if bits > _MAX_BITS:
            raise _err(f"number too long (more than {MAX_NUMBER_DIGITS} digits)", pos)
    return _bounded(base ** exponent, pos)


def _number(text: str, pos: A.Pos) -> sympy.Expr:
    try:
        value = sympy.Rational(text)
    except (TypeError, ValueError):
        raise _err(f"bad number '{text}'", pos) from None
    return value


class _Scope:
    """Lowers the expressions of one statement (labels and their dimensions are statement-wide)."""

    def __init__(self, fs: _FileState, pos: A.Pos) -> None:
        self.fs = fs
        self.program = fs.program
        self.env = fs.program.env
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
            from .printing import scalar_text

            raise _err(f"label '{label}' has dimension {scalar_text(old)} elsewhere but "
                       f"{scalar_text(dim)} here", pos)

    def dim_of(self, label: str) -> sympy.Expr:
        d = self.label_dims.get(label)
        if d is None:
            raise _err(f"cannot infer the dimension of label '{label}' (write {label}: n where it is bound)",
                       self.label_first.get(label, A.NOWHERE))
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
    def lower_top(self, node: A.Node, outputs: list[str] | None = None,
                  output_pos: dict[str, A.Pos] | None = None) -> Expr:
        ir = self.stage_a(node)
        self.resolve_groups()
        if outputs is not None:
            used = set(self.order)
            for l in outputs:
                if l not in used:
                    raise _err(f"label '{l}' is listed but not used by the expression",
                               (output_pos or {}).get(l, node.pos))
        return self.close_sum(ir, node.pos, outputs=outputs)

    def lower_pair(self, lhs: A.Node, rhs: A.Node) -> tuple[Expr, Expr]:
        a, b = self.lower_many([lhs, rhs])
        return a, b

    def lower_many(self, nodes: list[A.Node]) -> list[Expr]:
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
                raise _err("the two sides have different free labels: " + "; ".join(parts), n.pos)
        return exprs

    # ------------------------------------------------------------------ stage A
    def try_scalar(self, node: A.Node) -> sympy.Expr | None:
        """The sympy value of a pure scalar expression, or None if it involves tensors."""
        if isinstance(node, A.Num):
            return _number(node.text, node.pos)
        if isinstance(node, A.Name):
            sym = self.env.symbols.get(node.name)
            if sym is not None:
                return sym
            if node.name not in self.program.tensors and node.name not in self.program.lets \
                    and node.name not in self.program.funcs:
                raise _err(f"undeclared name '{node.name}'", node.pos)
            return None
        if isinstance(node, A.Neg):
            v = self.try_scalar(node.expr)
            return None if v is None else -v
        if isinstance(node, A.Power):
            b = self.try_scalar(node.base)
            if b is None:
                raise _err("`**` applies to scalars; use pow(E, k) for an elementwise power", node.pos)
            e = self.try_scalar(node.exponent)
            if e is None:
                raise _err("an exponent must be a scalar", node.exponent.pos)
            return _power(b, e, node.pos)
        if isinstance(node, A.Call):
            vals = [self.try_scalar(a) if not isinstance(a, (A.Bind,)) else None for a in node.args]
            if node.fn in ("sqrt", "min"):
                for a, v in zip(node.args, vals):
                    if v is None:
                        raise _err(f"{node.fn}(...) takes scalars (numbers and dimensions)", a.pos)
                return sympy.sqrt(vals[0]) if node.fn == "sqrt" else sympy.Min(*vals)
            if node.fn in ("exp", "log") and vals[0] is not None:
                return sympy.exp(vals[0]) if node.fn == "exp" else sympy.log(vals[0])
            if node.fn == "pow" and vals[0] is not None:
                if vals[1] is None:
                    raise _err("pow's exponent must be a scalar", node.args[1].pos)
                return _power(vals[0], vals[1], node.pos)
            return None
        if isinstance(node, A.Product):
            value = _ONE
            for f in node.factors:
                v = self.try_scalar(f.expr)
                if v is None:
                    return None
                value = _bounded(value / v if f.op == "/" else value * v, f.expr.pos)
            return value
        if isinstance(node, A.Sum):
            total = sympy.Integer(0)
            for s in node.items:
                v = self.try_scalar(s.expr)
                if v is None:
                    return None
                total = _bounded(total + s.sign * v, s.expr.pos)
            return total
        return None

    def stage_a(self, node: A.Node) -> ISum:
        """Lower an expression to a sum of products (the sum may have one summand)."""
        if isinstance(node, A.Sum):
            tags = self.program._tags  # type: ignore[attr-defined]
            summands = []
            for item in node.items:
                if item.tag is not None:
                    if item.tag in tags:
                        raise _err(f"summand tag '{item.tag}' is already used in this file", item.tag_pos)
                    tags.add(item.tag)
                summands.append(ISummand(item.pos, item.sign, item.tag, self.product(item.expr)))
            return ISum(node.pos, summands)
        return ISum(node.pos, [ISummand(node.pos, 1, None, self.product(node))])

    def product(self, node: A.Node) -> IProd:
        prod = IProd(node.pos)
        self.add_factor(prod, node, "")
        return prod

    def add_factor(self, prod: IProd, node: A.Node, op: str) -> None:
        scalar = self.try_scalar(node)
        if scalar is not None:
            if op == "/":
                if scalar == 0:
                    raise _err("division by zero", node.pos)
                prod.coeff = prod.coeff / scalar
            else:
                prod.coeff = prod.coeff * scalar
            return
        if op == "/":
            raise _err("can only divide by a scalar (numbers and dimensions)", node.pos)
        if isinstance(node, A.Product):
            for f in node.factors:
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
    def bind_args(self, owner: str, legs: tuple[str, ...], dims: tuple[sympy.Expr, ...],
                  args: tuple[A.Arg, ...] | None, pos: A.Pos) -> tuple[list[str], list[A.Pos]]:
        """Labels for each leg (in ``legs`` order); records label dimensions."""
        if args is None:
            labels = list(legs)
            poss = [pos] * len(legs)
        else:
            named = [a for a in args if a.leg is not None]
            if named and len(named) != len(args):
                raise _err("bind all legs by name or none", args[0].pos)
            if len(args) != len(legs):
                raise _err(f"{owner} has {len(legs)} leg{'s' if len(legs) != 1 else ''} "
                           f"({', '.join(legs) or 'none'}) but {len(args)} {'were' if len(args) != 1 else 'was'} bound",
                           args[0].pos if args else pos)
            if named:
                by_leg: dict[str, A.Arg] = {}
                for a in args:
                    if a.leg not in legs:
                        raise _err(f"{owner} has no leg '{a.leg}'", a.pos)
                    if a.leg in by_leg:
                        raise _err(f"leg '{a.leg}' bound twice", a.pos)
                    by_leg[a.leg] = a
                ordered = [by_leg[l] for l in legs]
            else:
                ordered = list(args)
            labels = [a.label for a in ordered]
            poss = [a.pos for a in ordered]
            for a, d in zip(ordered, dims):
                if a.dim is not None:
                    given = self.fs.dim_expr(a.dim)
                    if not self.env.same_dim(given, d):
                        from .printing import scalar_text

                        raise _err(f"label '{a.label}' is written with dimension {scalar_text(given)} "
                                   f"but binds a leg of dimension {scalar_text(d)}", a.pos)
        for l, p, d in zip(labels, poss, dims):
            self.see_label(l, p, d)
        return labels, poss

    def free_args(self, args: tuple[A.Arg, ...]) -> tuple[list[str], list[A.Pos]]:
        """Labels of delta/zero/shift: dimensions from annotations or the rest of the statement."""
        labels, poss = [], []
        for a in args:
            if a.leg is not None:
                raise _err("this tensor has no named legs", a.pos)
            d = self.fs.dim_expr(a.dim) if a.dim is not None else None
            self.see_label(a.label, a.pos, d)
            labels.append(a.label)
            poss.append(a.pos)
        return labels, poss

    def resolve_target(self, t: A.Target) -> tuple[str, object]:
        name = t.name
        if name in self.program.tensors:
            decl = self.program.tensors[name]
            conj = t.wrappers.count("conj") % 2 == 1
            inv = t.wrappers.count("inv")
            if inv and not decl.invertible:
                raise _err(f"inv({name}): '{name}' is not declared invertible, unitary or posdef", t.pos)
            return "tensor", tensor_op(decl, conj, inv)
        if t.wrappers:
            if name in self.program.lets:
                raise _err(f"{t.wrappers[0]}(...) applies to declared tensors, not to the let '{name}'", t.pos)
        if name in self.program.lets:
            return "let", self.program.lets[name]
        if name in self.program.funcs:
            raise _err(f"'{name}' is a function: apply it as {name}[a -> b](E)", t.pos)
        if name in self.env.symbols:
            raise _err(f"'{name}' is a dimension, not a tensor", t.pos)
        raise _err(f"undeclared name '{name}'", t.pos)

    def atom(self, node: A.Node):
        if isinstance(node, A.Name):
            return self.bind_target(A.Target(node.pos, node.name), None, node.pos)
        if isinstance(node, A.Bind):
            return self.bind_target(node.target, node.args, node.pos)
        if isinstance(node, A.Delta):
            return self.delta_atom(node)
        if isinstance(node, A.Zero):
            labels, poss = self.free_args(node.args)
            if len(set(labels)) != len(labels):
                raise _err("zero[...] takes distinct labels", node.pos)
            return IScopedAtom(node.pos, labels, lambda sc, labels=labels: (self.zero_expr(labels), None), poss)
        if isinstance(node, A.Shift):
            labels, poss = self.free_args(node.args)
            if len(labels) != 2:
                raise _err(f"shift(o) has 2 legs but {len(labels)} were bound", node.pos)
            self.same_dim.append(labels)
            offset = node.offset

            def build(sc, labels=labels, pos=node.pos):
                d0, d1 = self.dim_of(labels[0]), self.dim_of(labels[1])
                if not self.env.same_dim(d0, d1):
                    raise _err("shift(o)'s two legs must have one dimension", pos)
                return ShiftOp(offset, d0)

            return IAtom(node.pos, labels, build, poss)
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
            raise _err("`**` applies to scalars; use pow(E, k) for an elementwise power", node.pos)
        raise _err("unexpected expression here", node.pos)

    def bind_target(self, target: A.Target, args, pos: A.Pos):
        kind, obj = self.resolve_target(target)
        if kind == "tensor":
            op: TensorOp = obj  # type: ignore[assignment]
            ports = op.ports
            labels, poss = self.bind_args(op.text(), ports, tuple(op.port_dim(p) for p in ports), args, pos)
            return IAtom(pos, labels, lambda sc, op=op: op, poss)
        let: LetDef = obj  # type: ignore[assignment]
        dims = tuple(let.expr.free_dims[l] for l in let.labels)
        labels, poss = self.bind_args(f"'{let.name}'", let.labels, dims, args, pos)
        return IAtom(pos, labels, lambda sc, let=let: BoxOp(let.expr, let.labels, let.name), poss)

    def delta_atom(self, node: A.Delta):
        labels, poss = self.free_args(node.args)
        if not labels:
            raise _err("delta[...] needs at least one label", node.pos)
        self.same_dim.append(labels)

        def build(sc, labels=labels, pos=node.pos):
            d0 = self.dim_of(labels[0])
            for l in labels[1:]:
                if not self.env.same_dim(self.dim_of(l), d0):
                    raise _err("all legs of delta[...] must have one dimension", pos)
            return CopyTensor(d0, len(labels))

        return IAtom(node.pos, labels, build, poss)

    def zero_expr(self, labels: list[str]) -> Expr:
        return Expr.of([], {l: self.dim_of(l) for l in labels})

    def scoped_arg(self, node: A.Node) -> tuple[ISum, list[str]]:
        """Stage A of a scope's argument, and the labels it mentions (to record first use)."""
        ir = self.stage_a(node)
        return ir, []

    def _closed(self, ir: ISum, pos: A.Pos, outputs=None) -> Expr:
        return self.close_sum(ir, pos, outputs=outputs)

    def bubble_call(self, node: A.Call):
        fn = node.fn
        if fn in ("sqrt", "min"):
            raise _err(f"{fn}(...) takes scalars (numbers and dimensions)", node.pos)
        arg = node.args[0]
        ir = self.stage_a(arg)
        param = None
        if fn == "pow":
            param = self.try_scalar(node.args[1])
            if param is None:
                raise _err("pow's exponent must be a scalar", node.args[1].pos)
        labels = self.predict_free(ir)

        def make(sc, ir=ir, fn=fn, param=param, pos=arg.pos):
            inner = self._closed(ir, pos)
            return inner, (lambda inner: BubbleOp(fn, inner, (), param))

        return IScopedAtom(node.pos, labels, make)

    def axis_bubble(self, node: A.AxisCall):
        ir = self.stage_a(node.arg)
        axes = tuple(l.name for l in node.labels)
        need = 2 if node.fn == "causal" else 1
        if len(axes) != need:
            raise _err(f"{node.fn}[...] takes {need} label{'s' if need > 1 else ''}", node.pos)
        if len(set(axes)) != len(axes):
            raise _err(f"{node.fn}[...] takes distinct labels", node.pos)
        labels = self.predict_free(ir)
        for ref in node.labels:
            if ref.name not in labels:
                raise _err(f"{node.fn}[{ref.name}]: label '{ref.name}' is not free in its argument", ref.pos)
        if node.fn == "logsumexp":
            labels = [l for l in labels if l not in axes]

        def make(sc, ir=ir, fn=node.fn, axes=axes, pos=node.arg.pos):
            inner = self._closed(ir, pos)
            if fn == "causal" and not self.env.same_dim(inner.free_dims[axes[0]], inner.free_dims[axes[1]]):
                raise _err("causal[q, k]: q and k must have one dimension", node.pos)
            return inner, (lambda inner: BubbleOp(fn, inner, axes))

        return IScopedAtom(node.pos, labels, make)

    def func_app(self, node: A.FuncApp):
        f = self.program.funcs.get(node.fname)
        if f is None:
            if node.fname in self.program.tensors or node.fname in self.program.lets:
                raise _err(f"'{node.fname}' is not a function (declare it with `func`)", node.pos)
            raise _err(f"undeclared function '{node.fname}'", node.pos)
        ir = self.stage_a(node.arg)
        labels = self.predict_free(ir)
        if node.src.name not in labels:
            raise _err(f"{node.fname}[{node.src.name} -> ...]: label '{node.src.name}' is not free in its argument",
                       node.src.pos)
        if node.dst.name in labels and node.dst.name != node.src.name:
            raise _err(f"label '{node.dst.name}' is already free in the argument", node.dst.pos)
        self.see_label(node.src.name, node.src.pos, f.in_dim)
        out_labels = [l for l in labels if l != node.src.name] + [node.dst.name]

        def make(sc, ir=ir, f=f, src=node.src.name, pos=node.arg.pos):
            inner = self._closed(ir, pos)
            return inner, (lambda inner: BubbleOp("func", inner, (src,), None, f))

        # the output label's dimension belongs to the outer statement
        atom = IScopedAtom(node.pos, out_labels, make)
        atom.func_out = (node.dst.name, node.dst.pos, f.out_dim)  # type: ignore[attr-defined]
        self.see_label(node.dst.name, node.dst.pos, f.out_dim)
        return atom

    def keep(self, node: A.Keep):
        ir = self.stage_a(node.arg)
        kept = [l.name for l in node.labels]
        if len(set(kept)) != len(kept):
            raise _err("keep[...] lists a label twice", node.pos)
        mentioned = set()
        for s in ir.summands:
            mentioned |= set(s.prod.mentioned())
        for ref in node.labels:
            if ref.name not in mentioned:
                raise _err(f"keep[{ref.name}]: label '{ref.name}' is not used in its argument", ref.pos)
        labels = self.predict_free(ir, forced=set(kept))

        def make(sc, ir=ir, kept=kept, pos=node.arg.pos):
            return self.close_sum(ir, pos, forced=set(kept)), None

        return IScopedAtom(node.pos, labels, make)

    def group(self, node: A.Group):
        ir = self.stage_a(node.arg)
        labels = self.predict_free(ir)
        parts = [p.name for p in node.parts]
        if len(set(parts)) != len(parts):
            raise _err("group[...] lists a label twice", node.pos)
        for p in node.parts:
            if p.name not in labels:
                raise _err(f"group: label '{p.name}' is not free in its argument", p.pos)
        new = node.new.name
        if new in labels and new not in parts:
            raise _err(f"group: label '{new}' is already free in the argument", node.new.pos)
        self.pending_groups.append((new, parts, node.new.pos))
        self.see_label(new, node.new.pos, None)
        out_labels = [l for l in labels if l not in parts] + [new]

        def make(sc, ir=ir, parts=parts, new=new, pos=node.arg.pos):
            inner = self._closed(ir, pos)
            return self.reshaped(inner, parts, new, self.dim_of(new), grouping=True), None

        return IScopedAtom(node.pos, out_labels, make)

    def split(self, node: A.Split):
        ir = self.stage_a(node.arg)
        labels = self.predict_free(ir)
        whole = node.label.name
        if whole not in labels:
            raise _err(f"split: label '{whole}' is not free in its argument", node.label.pos)
        parts = [p.label for p in node.parts]
        if len(set(parts)) != len(parts):
            raise _err("split lists a label twice", node.pos)
        for p in node.parts:
            if p.label in labels and p.label != whole:
                raise _err(f"split: label '{p.label}' is already free in the argument", p.pos)
            self.see_label(p.label, p.pos, self.fs.dim_expr(p.dim))
        out_labels = [l for l in labels if l != whole] + parts

        def make(sc, ir=ir, parts=parts, whole=whole, pos=node.arg.pos):
            inner = self._closed(ir, pos)
            want = sympy.Mul(*[self.dim_of(p) for p in parts])
            if not self.env.same_dim(inner.free_dims[whole], want):
                from .printing import scalar_text

                raise _err(f"split: |{whole}| = {scalar_text(inner.free_dims[whole])} is not "
                           f"{' * '.join(scalar_text(self.dim_of(p)) for p in parts)}", node.pos)
            return self.reshaped(inner, parts, whole, inner.free_dims[whole], grouping=False), None

        return IScopedAtom(node.pos, out_labels, make)

    def reshaped(self, inner: Expr, parts: list[str], whole: str, whole_dim, grouping: bool) -> Expr:
        """Attach a reshape node to every term: group consumes ``parts`` and makes
        ``whole``; split consumes ``whole`` and makes ``parts``."""
        part_dims = tuple(self.dim_of(p) for p in parts)
        op = ReshapeOp(part_dims)
        terms = []
        for t in inner.terms:
            d = t.diagram
            used = set(d.dims) | set(d.labels)
            free = dict(d.free_map)
            dims = dict(d.dims)
            if grouping:
                part_edges = [free.pop(p) for p in parts]
                new_edge = fresh_name(whole, used)
                dims[new_edge] = whole_dim
                free[whole] = new_edge
                node = Node(op, tuple(part_edges) + (new_edge,))
            else:
                whole_edge = free.pop(whole)
                part_edges = []
                for p in parts:
                    e = fresh_name(p, used)
                    dims[e] = self.dim_of(p)
                    free[p] = e
                    part_edges.append(e)
                node = Node(op, tuple(part_edges) + (whole_edge,))
            terms.append(Term(t.coeff, Diagram.build(d.nodes + (node,), dims, free), t.tags))
        free_dims = {l: dd for l, dd in inner.free_dims.items() if l not in (parts if grouping else [whole])}
        if grouping:
            free_dims[whole] = whole_dim
        else:
            for p in parts:
                free_dims[p] = self.dim_of(p)
        return Expr.of(terms, free_dims)

    def diff(self, node: A.Diff):
        ir = self.stage_a(node.arg)
        labels = self.predict_free(ir)
        t = node.wrt.target
        if t.wrappers:
            raise _err("diff(E, X[...]) differentiates by a declared tensor, not inv/conj of one", t.pos)
        if t.name not in self.program.tensors:
            if t.name in self.program.lets:
                raise _err(f"diff by '{t.name}': differentiate by a declared tensor, not a let", t.pos)
            raise _err(f"undeclared name '{t.name}'", t.pos)
        op = tensor_op(self.program.tensors[t.name])
        wrt_labels, poss = self.bind_args(op.text(), op.ports, tuple(op.port_dim(p) for p in op.ports),
                                          node.wrt.args, node.wrt.pos)
        mentioned = set()
        for s in ir.summands:
            mentioned |= set(s.prod.mentioned())
        for l, p in zip(wrt_labels, poss):
            if l in mentioned:
                raise _err(f"diff: label '{l}' must be new (it is used in the expression)", p)
        if len(set(wrt_labels)) != len(wrt_labels):
            raise _err("diff: the derivative's labels must be distinct", node.wrt.pos)

        def make(sc, ir=ir, op=op, pos=node.arg.pos):
            inner = self._closed(ir, pos)
            return inner, (lambda inner: DerivOp(inner, op))

        atom = IScopedAtom(node.pos, labels + wrt_labels, make)
        atom.deriv_labels = wrt_labels  # type: ignore[attr-defined]
        return atom

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
    def close_sum(self, ir: ISum, pos: A.Pos, outputs: list[str] | None = None,
                  forced: set[str] | None = None) -> Expr:
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
                        raise _err(f"label '{l}' is listed but not used by every summand", pos)
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
                raise _err("summands have different free labels: " + "; ".join(parts), p)

    def close_product(self, prod: IProd, outside: Counter, forced: set[str],
                      summed_unlisted: bool = False) -> tuple[sympy.Expr, Diagram]:
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
                op = a.build(self)
                nodes.append(Node(op, tuple(a.labels)))
            elif isinstance(a, IScopedAtom):
                inner, make_op = a.make(self)
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
                        raise _err(f"internal: unexpected free label '{missing[0]}' in this argument", a.pos)
                    nodes.append(Node(op, tuple(port_labels[p] for p in op.ports)))
            else:
                # a parenthesised sum: flattened (einsum after distribution)
                rest = uses - own
                sub_outside = outside + rest
                inner, port_list = self.close_box(a, sub_outside, forced)
                if not inner.terms:
                    coeff = sympy.Integer(0)
                    continue
                coeff, sub_nodes = self._inline_or_box(inner, {l: l for l in port_list}, coeff, dims,
                                                       merges, used_names, a.pos)
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

    def _port_labels(self, a: IScopedAtom) -> dict[str, str]:
        out = {}
        for l in a.labels:
            out[l] = l
        deriv = getattr(a, "deriv_labels", None)
        if deriv:
            for i, l in enumerate(deriv):
                out[f"@d{i}"] = l
        func_out = getattr(a, "func_out", None)
        if func_out:
            from .model import FUNC_OUT_PORT

            out[FUNC_OUT_PORT] = func_out[0]
        return out

    def _inline_or_box(self, inner: Expr, port_labels: dict[str, str], coeff, dims, merges, used_names,
                       pos: A.Pos) -> tuple[sympy.Expr, list[Node]]:
        """A single-term inner expression is inlined into the product; a sum stays a box."""
        if len(inner.terms) == 1:
            t = inner.terms[0]
            outer = Diagram.build((), dims, {})
            sub_nodes, new_dims, sub_merges = inline_diagram(
                outer, {l: port_labels[l] for l in t.diagram.labels}, t.diagram, used_names)
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
                    raise _err(f"label '{l}' is used once outside this sum but not in every summand: after "
                               f"distributing, it would be free in some terms and summed in others", s.pos)
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


# =========================================================================== public API


def load_program(path: str | Path) -> Program:
    """Parse and check a .diag file (with its imports). Raises SourceError."""
    p = Path(path)
    display = str(path)
    if not p.is_file():
        raise SourceError(f"no such file: {display}", 0, 0, display)
    return _Loader().load_file(p, display)


def parse_program(text: str, path: str = "<input>", base_dir: str | Path | None = None) -> Program:
    """Parse and check .diag text. Imports resolve relative to ``base_dir`` (default: cwd)."""
    fake = Path(base_dir or os.getcwd()) / "__input__.diag"
    loader = _Loader()
    program = Program(path)
    module_path = fake if base_dir is not None else None
    return loader.load_text(text, path, module_path, program)


def parse_expression(program: Program, text: str) -> Expr:
    """An expression in the context of ``program``'s declarations."""
    if "\n" in text.strip():
        text = " ".join(text.split())
    try:
        module = parse_text(f"show {text}\n", "<expr>")
    except SourceError as e:
        raise SourceError(e.message, 1, max(e.col - 5, 1), "<expr>", text) from None
    if len(module.stmts) != 1 or not isinstance(module.stmts[0], A.ShowStmt):
        raise SourceError("expected one expression", 1, 1, "<expr>", text)
    fs = _FileState(_Loader(), program, module, None, run_statements=False)
    # an expression parsed through the API is not part of the file: its tags are its own
    saved_tags = set(program._tags) if hasattr(program, "_tags") else set()  # type: ignore[attr-defined]
    program._tags = set()  # type: ignore[attr-defined]
    try:
        return _Scope(fs, module.stmts[0].pos).lower_top(module.stmts[0].expr)
    except SourceError as e:
        raise SourceError(e.message, 1, max(e.col - 5, 1), "<expr>", text) from None
    finally:
        program._tags = saved_tags  # type: ignore[attr-defined]


def expression_of_name(program: Program, name: str) -> Expr:
    if name in program.lets:
        return program.lets[name].expr
    if name in program.tensors:
        return parse_expression(program, name)
    raise KeyError(name)


def _all_terms(expr):
    """Every term of ``expr`` and of the expressions nested in it (boxes, bubbles, derivatives)."""
    from .model import BoxOp, BubbleOp, DerivOp

    seen: set[int] = set()
    stack = [expr]
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        for t in e.terms:
            yield t
            for n in t.diagram.nodes:
                if isinstance(n.op, (BoxOp, BubbleOp, DerivOp)):
                    stack.append(n.op.inner)
