"""Statement lowering: the statements of one parsed file -> a :class:`~diagalg.program.Program`.

Each statement is checked and translated in order: declarations (``dim``,
``tensor``, ``func``, ``let``, ``rule``) fill the program's one namespace, and the
statements that run (``assert``, ``show``, ``calc``, ``expand``/``paths``, ``cost``,
``draw``, ``decompose``) become program statements holding model expressions
(:mod:`diagalg.lower.expr` lowers the expressions). What a statement means beyond
its syntax is decided where it belongs: :func:`diagalg.decompose.plan` for a
decomposition, :func:`diagalg.weights.bind_file` for a weights file.
"""

from __future__ import annotations

import os
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import sympy

from .. import ast as A
from .. import decompose
from ..checkpoints import UnknownLayout, bind_checkpoint
from ..cost import CostError, has_written_order, network
from ..decompose import FactorUse
from ..dims import DimConstraint
from ..distribution import DistributionDecl
from ..distribution import conflict as distribution_conflict
from ..engine import unfold
from ..expand import nested_sums
from ..model import Expr, FuncDecl, TensorDecl, Term
from ..program import (
    AssertStmt,
    CalcStep,
    CalcStmt,
    CostStmt,
    DecomposeStmt,
    DrawStmt,
    ExpandStmt,
    LetDef,
    Origin,
    Program,
    RuleStmt,
    ShowStmt,
    Source,
    UserRule,
)
from ..rules import implemented_rules
from ..rules.user import UserRuleRewriter
from ..vocabulary import DRAWING_EXTENSIONS as EXTENSIONS
from ..vocabulary import VALUES_KINDS
from ..weights import WeightsError, bind_file
from .expr import Scope
from .scalars import did_you_mean, dim_expr, error_at, scalar

PROPERTY_NAMES = (
    "symmetric",
    "antisymmetric",
    "isometry",
    "unitary",
    "invertible",
    "projector",
    "posdef",
    "complex",
    "positive",
    "distribution",
)


def rule_names(program: Program, by: A.ByClause | None) -> tuple[str, ...]:
    """The rules a ``by`` clause names, each a built-in or one of ``program``'s rules."""
    if by is None:
        return ()
    out = []
    for r in by.rules:
        if r.name not in program.rules and r.name not in implemented_rules():
            known = sorted(set(implemented_rules()) | set(program.rules))
            raise error_at(f"unknown rule '{r.name}'{did_you_mean(r.name, known)} (known: {', '.join(known)})", r.pos)
        out.append(r.name)
    return tuple(out)


def _check_leg_symmetry(
    decl: TensorDecl, group_pos: list[tuple[tuple[str, ...], A.Pos]], subs: dict[sympy.Symbol, sympy.Expr]
) -> None:
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
            raise error_at(
                f"a leg cannot be both symmetric and antisymmetric: mixing them on legs "
                f"{', '.join(legs)} forces '{decl.name}' to be zero",
                at,
            )
        size = decl.leg_dim(legs[0]).subs(subs)
        if sign < 0 and size.is_Integer and len(legs) > int(size):
            raise error_at(
                f"'{decl.name}' is antisymmetric in {len(legs)} legs of dimension {size}, so it is identically zero", at
            )
    kind = decl.structure
    if kind is None or not group_pos or (decl.symmetric_matrix and kind in ("invertible", "posdef", "projector")):
        return
    at = group_pos[0][1]
    if decl.hermitian and len(decl.legs) == 2 and any(sign < 0 for _, sign in decl.leg_symmetry):
        why = (
            "is zero (its trace, which is its rank, is 0)"
            if kind == "projector"
            else "is impossible (its diagonal must be positive)"
        )
        raise error_at(f"an antisymmetric {kind} matrix {why}", at)
    raise error_at(f"'{kind}' combined with these leg symmetries is not supported", at)


def _check_positive(structure: str | None, is_complex: bool, antisym: list, at: A.Pos) -> None:
    """Refuse ``positive`` (every entry a positive real) where it contradicts the other
    properties: complex entries, antisymmetric legs (zero diagonal) and a map structure
    (whose samples have entries of both signs)."""
    if is_complex:
        raise error_at("'positive' entries are real: it cannot be combined with 'complex'", at)
    if antisym:
        raise error_at("an antisymmetric tensor has zero entries: it cannot be 'positive'", at)
    if structure is not None:
        raise error_at(f"'positive' cannot be combined with '{structure}'", at)


class FileLowering:
    """Lowers the statements of one parsed file into ``program``, in order.

    ``path`` is the file on disk (None for text: imports, weights and drawings then
    resolve against the working directory); ``imports`` loads an imported file into
    the same program, and ``loading`` lists the files being loaded (to refuse cyclic
    imports). With ``run_statements`` False (an imported file) declarations, lets
    and rules are kept but the statements to run are not.
    """

    def __init__(
        self,
        program: Program,
        module: A.Module,
        path: Path | None,
        run_statements: bool,
        imports: Callable[[Path, str], None],
        loading: Sequence[Path],
    ) -> None:
        self.program = program
        self.module = module
        self.path = path
        self.run_statements = run_statements
        self.imports = imports
        self.loading = loading
        self.lines = module.text.splitlines()
        #: first line of each statement (and calc step) -> first line of the next one
        self.next_line: dict[int, int] = {}
        self._in_calc = False

    # ------------------------------------------------------------------ helpers
    @property
    def origins(self) -> dict[str, Origin]:
        return self.program.origins

    @property
    def base(self) -> Path:
        """The directory relative paths in the file are resolved against."""
        return Path(os.getcwd()) if self.path is None else self.path.parent

    def scope(self) -> Scope:
        """A new scope for one statement's expressions (summand tags are file-wide)."""
        return Scope(self.program, self.program.tags)

    def source(self, pos: A.Pos) -> Source:
        """The statement's text on one line: its lines up to the next statement (a
        ``calc`` step ends at the next ``=`` line), comments and continuation
        backslashes removed, joined as typed (:func:`join_lines`)."""
        line = pos.line
        last = self.next_line.get(line, line + 1) - 1
        parts = []
        for k in range(line, max(last, line) + 1):
            if not 0 < k <= len(self.lines):
                break
            t = code_line(self.lines[k - 1])
            if k > line and t.startswith("=") and self._in_calc:
                break
            if t:
                parts.append(t)
        return Source(self.module.path, line, pos.col, join_lines(parts))

    def declare(self, name: str, pos: A.Pos, kind: str) -> None:
        """Record ``name`` as declared at ``pos``; every kind of name shares one namespace."""
        if name in self.origins:
            o = self.origins[name]
            where = f"line {o.pos.line}" if o.path == self.module.path else f"{o.path}:{o.pos.line}"
            raise error_at(f"'{name}' is already declared (as a {o.kind}, {where})", pos)
        self.origins[name] = Origin(self.module.path, pos, kind)

    # ------------------------------------------------------------------ statements
    def run(self) -> None:
        starts = sorted(
            {st.pos.line for st in self.module.stmts}
            | {step.pos.line for st in self.module.stmts if isinstance(st, A.CalcStmt) for step in st.steps}
        )
        self.next_line = {a: b for a, b in zip(starts, starts[1:] + [len(self.lines) + 1])}
        self._in_calc = False
        for stmt in self.module.stmts:
            self._in_calc = isinstance(stmt, A.CalcStmt)
            handler = getattr(self, "stmt_" + type(stmt).__name__)
            try:
                handler(stmt)
            except RecursionError:
                raise error_at("expression nested too deeply", stmt.pos) from None

    def stmt_ImportStmt(self, s: A.ImportStmt) -> None:
        target = (self.base / s.path).resolve()
        if target in self.loading:
            chain = " -> ".join(p.name for p in [*self.loading, target])
            raise error_at(f"cyclic import: {chain}", s.path_pos)
        if not target.is_file():
            raise error_at(f'cannot import "{s.path}": no such file', s.path_pos)
        if target in self.program.imported:
            return
        self.program.imported.add(target)
        # an error in the imported file is reported in that file, as it is there
        self.imports(target, os.path.relpath(target) if not os.path.isabs(s.path) else str(target))

    def stmt_DimStmt(self, s: A.DimStmt) -> None:
        env = self.program.env
        for item in s.items:
            if item.op is None:
                self.declare(item.name, item.pos, "dimension")
                env.declare(item.name)
            elif item.op == "=":
                assert item.value is not None  # the parser gives every operator its value
                value = scalar(self.program, item.value)
                self.declare(item.name, item.pos, "dimension")
                value_s = sympy.sympify(value)
                if value_s.is_Integer:
                    if int(value_s) < 1:
                        raise error_at(f"dimension '{item.name}' must be a positive integer", item.value.pos)
                    env.declare(item.name, value=int(value_s))
                elif value_s.free_symbols and all(v in env.symbols.values() for v in value_s.free_symbols):
                    env.declare(item.name, derived=value_s)
                else:
                    raise error_at(f"dimension '{item.name}' must be a positive integer", item.value.pos)
            else:
                assert item.value is not None
                value = scalar(self.program, item.value)
                self.declare(item.name, item.pos, "dimension")
                sym = env.declare(item.name)
                env.constraints.append(DimConstraint(sym, item.op, sympy.sympify(value)))

    def stmt_TensorStmt(self, s: A.TensorStmt) -> None:
        legs: list[str] = []
        dims: list[sympy.Expr] = []
        for leg in s.legs:
            if leg.name in legs:
                raise error_at(f"tensor '{s.name}' has two legs named '{leg.name}'", leg.pos)
            legs.append(leg.name)
            dims.append(dim_expr(self.program, leg.dim))
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
        positive_at: A.Pos | None = None
        distribution: tuple[tuple[str, ...], A.Pos] | None = None
        seen: set[str] = set()
        group_pos: list[tuple[tuple[str, ...], A.Pos]] = []

        def leg_names(refs: Iterable[A.LabelRef]) -> tuple[str, ...]:
            out = []
            for r in refs:
                if r.name not in legs:
                    raise error_at(f"tensor '{s.name}' has no leg '{r.name}'", r.pos)
                if r.name in out:
                    raise error_at(f"leg '{r.name}' listed twice", r.pos)
                out.append(r.name)
            return tuple(out)

        def prod_dim(group: tuple[str, ...]) -> sympy.Expr:
            return sympy.Mul(*[dims[legs.index(l)] for l in group])

        for p in s.props:
            if p.name not in PROPERTY_NAMES:
                raise error_at(f"unknown property '{p.name}' (known: {', '.join(PROPERTY_NAMES)})", p.pos)
            if p.name in seen and p.name not in ("symmetric", "antisymmetric"):
                raise error_at(f"property '{p.name}' given twice", p.pos)
            seen.add(p.name)
            if p.name == "complex":
                if p.inputs is not None:
                    raise error_at("'complex' takes no legs", p.pos)
                is_complex = True
            elif p.name == "positive":
                if p.inputs is not None:
                    raise error_at("'positive' takes no legs", p.pos)
                positive_at = p.pos
            elif p.name == "distribution":
                if p.outputs is not None:
                    raise error_at("'distribution' takes a list of legs, not a map", p.pos)
                distribution = (leg_names(p.inputs) if p.inputs else legs, p.pos)
            elif p.name in ("symmetric", "antisymmetric"):
                group = leg_names(p.inputs) if p.inputs else legs
                if p.outputs is not None:
                    raise error_at(f"'{p.name}' takes a list of legs, not a map", p.pos)
                if len(group) < 2:
                    raise error_at(f"'{p.name}' needs at least two legs", p.pos)
                d0 = dims[legs.index(group[0])]
                for l in group[1:]:
                    if not env.same_dim(dims[legs.index(l)], d0):
                        raise error_at(
                            f"'{p.name}' legs must have one dimension ('{group[0]}' and '{l}' differ)", p.pos
                        )
                (symmetric if p.name == "symmetric" else antisym).append(group)
                group_pos.append((group, p.pos))
            else:
                if structure is not None:
                    raise error_at(f"'{p.name}' cannot be combined with '{structure}'", p.pos)
                structure = p.name
                if p.inputs is None or (not p.inputs and p.outputs is None):
                    if p.name == "posdef" or p.name in ("invertible", "unitary", "projector"):
                        if len(legs) != 2:
                            raise error_at(
                                f"'{p.name}' without a map needs exactly two legs (write {p.name}(in -> out))", p.pos
                            )
                        inputs, outputs = (legs[1],), (legs[0],)
                    else:
                        raise error_at(f"'{p.name}' needs a map: {p.name}(in -> out)", p.pos)
                else:
                    if p.outputs is None:
                        raise error_at(f"'{p.name}' needs a map: {p.name}(in -> out)", p.pos)
                    if p.name == "posdef":
                        raise error_at("'posdef' takes no map", p.pos)
                    inputs, outputs = leg_names(p.inputs), leg_names(p.outputs)
                    both = set(inputs) & set(outputs)
                    if both:
                        raise error_at(f"leg '{sorted(both)[0]}' is both an input and an output", p.pos)
                    if set(inputs) | set(outputs) != set(legs):
                        missing = [l for l in legs if l not in inputs and l not in outputs]
                        raise error_at(f"'{p.name}' must use every leg; '{missing[0]}' is missing", p.pos)
                if p.name in ("unitary", "invertible", "projector", "posdef"):
                    if not env.same_dim(prod_dim(inputs), prod_dim(outputs)):
                        raise error_at(f"'{p.name}' needs inputs and outputs of equal total dimension", p.pos)
                if p.name == "projector" and len(inputs) != len(outputs):
                    raise error_at("'projector' needs as many input legs as output legs", p.pos)
        if structure in ("projector", "posdef") and len(inputs) == 1:
            if not env.same_dim(dims[legs.index(inputs[0])], dims[legs.index(outputs[0])]):
                raise error_at(f"'{structure}' legs must have one dimension", s.pos)
        if structure == "isometry":
            subs = env.concrete_subs()
            din, dout = prod_dim(inputs).subs(subs), prod_dim(outputs).subs(subs)
            if din.is_number and dout.is_number and din > dout:
                raise error_at(f"an isometry maps to a space at least as large as its input ({din} > {dout})", s.pos)
            if din.is_number and dout.is_number and din == dout:
                # V†V = I with V square gives V V† = I: an isometry whose two sizes are one
                # concrete number is unitary, and the rules needing unitarity read it so
                structure = "unitary"
        if positive_at is not None:
            _check_positive(structure, is_complex, antisym, positive_at)
        decl = TensorDecl(
            s.name,
            legs,
            dims,
            tuple(symmetric),
            tuple(antisym),
            structure,
            inputs,
            outputs,
            is_complex,
            positive=positive_at is not None,
        )
        _check_leg_symmetry(decl, group_pos, env.concrete_subs())
        if distribution is not None:
            decl = DistributionDecl(
                **{f.name: getattr(decl, f.name) for f in dataclass_fields(TensorDecl)}, distribution=distribution[0]
            )
            why = distribution_conflict(decl)
            if why:
                raise error_at(why, distribution[1])
        return decl

    def stmt_FuncStmt(self, s: A.FuncStmt) -> None:
        self.declare(s.name, s.name_pos, "function")
        self.program.funcs[s.name] = FuncDecl(
            s.name, s.src.name, dim_expr(self.program, s.src.dim), s.dst.name, dim_expr(self.program, s.dst.dim)
        )

    def stmt_LetStmt(self, s: A.LetStmt) -> None:
        sc = self.scope()
        listed = None
        if s.labels is not None:
            listed = []
            for r in s.labels:
                if r.name in listed:
                    raise error_at(f"label '{r.name}' listed twice", r.pos)
                listed.append(r.name)
        expr = sc.lower_top(s.expr, outputs=listed, output_pos={r.name: r.pos for r in (s.labels or ())})
        labels = tuple(listed) if listed is not None else tuple(sc.first_seen_order(expr.labels))
        self.declare(s.name, s.name_pos, "let")
        self.program.lets[s.name] = LetDef(s.name, labels, expr, self.source(s.pos))

    def stmt_RuleStmt(self, s: A.RuleStmt) -> None:
        lhs, rhs = self.scope().lower_pair(s.lhs, s.rhs)
        if s.name in implemented_rules():
            # a `by` clause names rules: one name must not mean two rules
            raise error_at(f"rule '{s.name}' is a built-in rule; choose another name", s.name_pos)
        self.declare(s.name, s.name_pos, "rule")
        rule = UserRule(s.name, lhs, rhs, self.source(s.pos))
        try:
            UserRuleRewriter(rule)
        except ValueError as e:
            raise error_at(f"rule '{s.name}' cannot be used as a rewrite: {e}", s.name_pos) from None
        self.program.rules[s.name] = rule
        if self.run_statements:
            self.program.statements.append(RuleStmt(self.source(s.pos), rule))

    def rule_names(self, by: A.ByClause | None) -> tuple[str, ...]:
        return rule_names(self.program, by)

    def stmt_AssertStmt(self, s: A.AssertStmt) -> None:
        sc = self.scope()
        lhs, rhs = sc.lower_pair(s.lhs, s.rhs)
        rules = self.rule_names(s.by)
        if self.run_statements:
            self.program.statements.append(AssertStmt(self.source(s.pos), lhs, rhs, s.op, s.numeric, rules))

    def stmt_ShowStmt(self, s: A.ShowStmt) -> None:
        sc = self.scope()
        expr = sc.lower_top(s.expr)
        rules = self.rule_names(s.by)
        if self.run_statements:
            self.program.statements.append(ShowStmt(self.source(s.pos), expr, s.unfold, rules))

    def stmt_CalcStmt(self, s: A.CalcStmt) -> None:
        sc = self.scope()
        exprs = sc.lower_many([s.expr] + [st.expr for st in s.steps])
        steps = tuple(
            CalcStep(self.source(st.pos), e, self.rule_names(st.by) if st.by else None)
            for st, e in zip(s.steps, exprs[1:])
        )
        if self.run_statements:
            self.program.statements.append(CalcStmt(self.source(s.pos), exprs[0], steps))

    def stmt_ExpandStmt(self, s: A.ExpandStmt) -> None:
        metric = None
        if s.metric is None:
            expr = self.scope().lower_top(s.expr)
        else:
            expr, metric = self.lower_metric(s.expr, s.metric)
        if s.top is not None and s.top < 1:
            raise error_at(f"top {s.top}: the number of terms must be at least 1", s.pos)
        over = tuple((ref.name, self.over_size(expr, ref)) for ref in s.over)
        if self.run_statements:
            self.program.statements.append(ExpandStmt(self.source(s.pos), expr, s.kind, over, s.top, metric))

    def lower_metric(self, expr_node: A.Node, metric_node: A.Node) -> tuple[Expr, Expr]:
        """``E`` and the metric ``M`` of ``top K by M``, lowered together: a label is one
        label with one dimension in both, and M must have exactly E's free labels, so that
        ``<M, term>`` (every free label contracted) is a number."""
        sc = self.scope()
        irs = [sc.stage_a(expr_node), sc.stage_a(metric_node)]
        sc.resolve_groups()
        expr = sc.close_sum(irs[0], expr_node.pos)
        metric = sc.close_sum(irs[1], metric_node.pos)
        if set(metric.labels) != set(expr.labels):
            missing = sorted(set(expr.labels) - set(metric.labels))
            extra = sorted(set(metric.labels) - set(expr.labels))
            parts = ([f"it lacks {', '.join(missing)}"] if missing else []) + (
                [f"{', '.join(extra)} {'is' if len(extra) == 1 else 'are'} not free in the expression"] if extra else []
            )
            free = ", ".join(expr.labels) or "none"
            raise error_at(
                f"the metric after `by` must have the expression's free labels ({free}): " + "; ".join(parts),
                metric_node.pos,
            )
        return expr, metric

    def over_size(self, expr: Expr, ref: A.LabelRef) -> int:
        """The concrete size of the summed label ``ref`` somewhere in ``expr`` (lets unfolded)."""
        if ref.name in expr.labels:
            raise error_at(
                f"over {ref.name}: '{ref.name}' is a free label of the expression; only a summed label can be split",
                ref.pos,
            )
        subs = self.program.env.concrete_subs()
        dims = set()
        for t in _all_terms(unfold(expr)):
            free = set(t.diagram.free_map.values())
            for e, d in t.diagram.edge_dims:
                if e.split("~")[0] == ref.name and e not in free:
                    dims.add(sympy.sympify(d).xreplace(subs))
        if not dims:
            raise error_at(f"over {ref.name}: no summed label '{ref.name}' in this expression", ref.pos)
        bad = [d for d in dims if not d.is_Integer]
        if bad or len(dims) > 1:
            raise error_at(
                f"over {ref.name}: '{ref.name}' must have one concrete dimension (found "
                f"{', '.join(sorted(str(d) for d in dims))})",
                ref.pos,
            )
        return int(next(iter(dims)))

    def stmt_DecomposeStmt(self, s: A.DecomposeStmt) -> None:
        target = self.program.tensors.get(s.target)
        if target is None:
            what = (
                "a let"
                if s.target in self.program.lets
                else f"not declared{did_you_mean(s.target, self.program.tensors)}"
            )
            raise error_at(f"decompose needs a declared tensor; '{s.target}' is {what}", s.target_pos)
        if len(s.args) != len(target.legs):
            raise error_at(f"bind each of {s.target}'s {len(target.legs)} legs to a label", s.target_pos)
        tlabels: list[str] = []
        for a in s.args:
            if a.leg is not None or a.dim is not None or a.value is not None:
                raise error_at("bind the target's legs to plain labels, in declared order", a.pos)
            if a.label in tlabels:
                raise error_at(f"label '{a.label}' is used twice on the target", a.pos)
            tlabels.append(a.label)
        items = s.rhs.factors if isinstance(s.rhs, A.Product) else (A.Factor("", s.rhs),)
        uses: list[FactorUse] = []
        use_pos: list[A.Pos] = []
        binds: list[A.Bind] = []  # the factors, each checked to be a binding
        label_pos: dict[str, A.Pos] = {}
        label_last: dict[str, A.Pos] = {}
        annotations: dict[str, A.Node] = {}
        for f in items:
            e = f.expr
            if f.op or not isinstance(e, A.Bind) or not e.args or e.target.wrappers not in ((), ("conj",)):
                raise error_at(
                    "a decomposition's right side is a product of new tensors bound to labels, "
                    "like U[i, r] s[r] conj(V)[j, r]",
                    getattr(e, "pos", s.rhs.pos),
                )
            if e.target.name in self.origins and e.target.name not in {u.name for u in uses}:
                o = self.origins[e.target.name]
                raise error_at(
                    f"'{e.target.name}' is already declared (as a {o.kind}, line {o.pos.line}); "
                    "a decomposition introduces new tensors",
                    e.pos,
                )
            for a in e.args:
                if a.leg is not None or a.value is not None:
                    raise error_at("bind a new factor's legs by position", a.pos)
                label_pos.setdefault(a.label, a.pos)
                label_last[a.label] = a.pos
                if a.dim is not None:
                    if a.label in tlabels:
                        raise error_at(f"'{a.label}' is a leg of {s.target}: its dimension is already known", a.pos)
                    if a.label in annotations:
                        raise error_at(f"the dimension of '{a.label}' is already written", a.pos)
                    annotations[a.label] = a.dim
            uses.append(FactorUse(e.target.name, bool(e.target.wrappers), tuple(a.label for a in e.args)))
            use_pos.append(e.pos)
            binds.append(e)

        def written(label: str) -> sympy.Expr | str | None:
            note = annotations.get(label)
            if isinstance(note, A.Name) and note.name not in self.program.env.symbols and note.name not in self.origins:
                return note.name  # a new rank name
            return None if note is None else dim_expr(self.program, note)

        try:
            plan = decompose.plan(
                s.kind,
                not s.approx,
                target,
                tlabels,
                uses,
                written,
                self.program.env,
                self.program.decompositions.values(),
                self.origins,
            )
        except decompose.ShapeError as e:
            pos = s.kind_pos
            if e.factor is not None:
                pos = use_pos[e.factor]
            elif e.label is not None:
                pos = label_last.get(e.label, s.target_pos)
            elif e.bond is not None:
                pos = label_pos[e.bond]
            elif e.note is not None:
                pos = annotations[e.note].pos
            elif e.whole:
                pos = s.pos
            raise error_at(str(e), pos) from None
        for label, name in plan.new_dims:
            self.declare(name, annotations[label].pos, "dimension")
        for decl in plan.factors:
            self.declare(decl.name, use_pos[next(i for i, u in enumerate(uses) if u.name == decl.name)], "tensor")
            self.program.tensors[decl.name] = decl
        dec = plan.decomposition
        lhs_node = A.Bind(s.target_pos, A.Target(s.target_pos, s.target), s.args)
        lhs, rhs = self.scope().lower_pair(lhs_node, s.rhs)
        self.program.decompositions[dec.rule] = dec
        self.declare(dec.rule, s.kind_pos, "rule")
        sides = [(lhs, rhs)]
        if len(plan.rules) > 1:  # conj(T) -> the factors with conj flipped
            flip = tuple(
                A.Factor(
                    "",
                    A.Bind(
                        b.pos, A.Target(b.target.pos, b.target.name, () if b.target.wrappers else ("conj",)), b.args
                    ),
                )
                for b in binds
            )
            conj_lhs = A.Bind(s.target_pos, A.Target(s.target_pos, s.target, ("conj",)), s.args)
            sides.append(self.scope().lower_pair(conj_lhs, A.Product(s.rhs.pos, flip)))
        for name, (left, right) in zip(plan.rules, sides):
            rule = UserRule(name, left, right, self.source(s.pos))
            UserRuleRewriter(rule)
            self.program.rules[name] = rule
            self.program.auto_rules.append(name)
        if self.run_statements:
            self.program.statements.append(DecomposeStmt(self.source(s.pos), dec, lhs, rhs))

    def stmt_CostStmt(self, s: A.CostStmt) -> None:
        # parenthesised products kept as one-term boxes (the order as written, lets folded);
        # unfold inlines them, which is the ordinary form, stored when there is no such box
        written = Scope(self.program, self.program.tags, keep_products=True).lower_top(s.expr)
        plain = unfold(written)
        try:
            for t in plain.terms:
                network(t.diagram, self.program.env)
        except CostError as e:
            raise error_at(str(e), s.pos) from None
        if self.run_statements:
            stored = written if has_written_order(written) else plain
            self.program.statements.append(CostStmt(self.source(s.pos), stored))

    def stmt_DrawStmt(self, s: A.DrawStmt) -> None:
        expr = self.scope().lower_top(s.expr)
        if Path(s.path).suffix.lower() not in EXTENSIONS:
            raise error_at(
                f"draw: unknown drawing format '{Path(s.path).suffix}' for \"{s.path}\" "
                f"(use {', '.join(sorted(EXTENSIONS))})",
                s.pos,
            )
        if s.values and EXTENSIONS[Path(s.path).suffix.lower()] not in VALUES_KINDS:
            raise error_at(
                f'draw ... values: "{s.path}" cannot hold the values panels (they are SVG: write .svg, .html or .png)',
                s.pos,
            )
        if self.run_statements:
            self.program.statements.append(
                DrawStmt(self.source(s.pos), expr, s.path, str(self.base / s.path), s.folded, s.values)
            )

    def stmt_WeightsStmt(self, s: A.WeightsStmt) -> None:
        # bound here, not after the file: the arrays bind to the tensors declared above
        try:
            if s.layout is None:
                self.program.binding = bind_file(
                    self.base / s.path, s.path, self.program.tensors, self.program.env, self.program.binding
                )
            else:
                self.program.binding = bind_checkpoint(
                    self.base / s.path, s.path, s.layout, self.program.tensors, self.program.env, self.program.binding
                )
        except UnknownLayout as e:
            raise error_at(str(e), s.layout_pos or s.pos) from None
        except WeightsError as e:
            raise error_at(str(e), s.pos) from None
        self.program.weights.append((s.path, self.source(s.pos)))


def _all_terms(expr: Expr) -> Iterator[Term]:
    """Every term of ``expr`` and of the expressions nested in it (boxes, bubbles, derivatives)."""
    for e in nested_sums(expr):
        yield from e.terms


def code_line(line: str) -> str:
    """One input line as the lowering reads it into a statement's one-line text: the
    comment and a continuation backslash removed, white space collapsed to single spaces."""
    t = line.split("#", 1)[0].strip()
    if t.endswith("\\"):
        t = t[:-1].rstrip()
    return " ".join(t.split())


def join_lines(parts: Iterable[str]) -> str:
    """Lines of one statement (as :func:`code_line` gives them) on one line as typed: a
    single space at each line break, none after an opening bracket or before a closing one."""
    out = ""
    for part in parts:
        if out and part and not (out.endswith(("(", "[")) or part.startswith((")", "]"))):
            out += " "
        out += part
    return out
