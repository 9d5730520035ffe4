"""Code export: a verified diagram becomes a Python function (``diagalg export``).

:func:`export` turns a ``let`` (or a declared tensor) of a program into the text of
a Python module that computes it:

* ``numpy``: a function ``NAME(T1, T2, ...)`` taking the declared tensors it uses
  (numpy arrays, axes in declared leg order) and returning the array with axes in
  the let's label order. Every product term is one ``opt_einsum.contract`` call
  with its contraction path precomputed and written into the module.
* ``torch``: the same function on torch tensors (``opt_einsum`` dispatches to
  torch; bubbles use torch functions).
* ``einsum``: the bare specification, a list ``NAME_TERMS`` of ``(coefficient,
  equation, operand names, path)``, usable with ``numpy.einsum(eq, *ops,
  optimize=["einsum_path", *path])`` or ``opt_einsum.contract(eq, *ops,
  optimize=path)``; only plain contractions of declared tensors fit this form.

Let definitions are unfolded first. Copy tensors become shared indices (a free
identity becomes an ``eye`` operand), ``shift``, ``onehot`` and reshapes become
small constant arrays, parenthesised sums and bubbles become intermediate
variables. Derivatives and user functions (``func``) have no closed form to
export and are refused with :class:`ExportError`.

With ``simplify`` (``diagalg export --simplify``) the let's simplified form is
exported instead, checked against the original; the header gives both forms' FLOPs
and the declared properties the simplification relied on, which the function
checks on its arguments unless called with ``check_properties=False``.
"""

from __future__ import annotations

import keyword
import re
import string
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import opt_einsum as oe
import sympy

from .bubbles import BUBBLES
from .engine import unfold
from .errors import SourceError
from .export_backends import BACKENDS, Printer
from .export_properties import CHECK_HELPER, PROPERTY_TEXT, relied_properties
from .model import (
    BoxOp,
    BubbleOp,
    CopyTensor,
    DerivOp,
    Diagram,
    Expr,
    IndexOp,
    Op,
    ReshapeOp,
    ShiftOp,
    TensorDecl,
    TensorOp,
    Term,
    dim_symbols_in,
    tensor_decls_in,
    walk_nodes,
)
from .printing import expr_text, scalar_text
from .program import Program

TARGETS = ("numpy", "torch", "einsum")


class ExportError(Exception):
    """The expression uses something the target cannot express (the message names it)."""


@dataclass
class Exported:
    """An exported module: ``code`` (Python source), the function (or list) name
    ``entry``, the tensor arguments in order ``args`` (declared names), and the
    output axes ``labels``."""

    code: str
    entry: str
    args: tuple[str, ...]
    labels: tuple[str, ...]
    sizes: dict[str, int] = field(default_factory=dict)
    #: dimensions no argument's shape gives: keyword arguments (python name -> dimension name)
    size_args: dict[str, str] = field(default_factory=dict)
    #: the outcome of the numeric check of the code (export_program(check=True)), else ""
    check: str = ""
    #: dimensions the code sets from their declared value (no argument's shape gives them)
    literal_dims: tuple[str, ...] = ()


def export_program(
    program: Program,
    name: str,
    target: str = "numpy",
    sizes: dict[str, int] | None = None,
    check: bool = False,
    simplify: bool = False,
) -> Exported:
    """Export the let (or tensor) ``name`` of ``program``. Raises :class:`SourceError`
    positioned at the let (or tensor declaration) when something cannot be exported,
    and :class:`KeyError` when ``name`` is neither a let nor a tensor.

    ``sizes`` (dimension name -> size) are the sizes the contraction paths are
    optimised for; by default concrete dimensions keep their value and symbolic
    ones take 64 (a size where the order of contraction matters). With ``check`` the
    code is run once on a random draw and compared with diagalg's evaluation; the
    outcome (:func:`verify`) is in ``check`` and in a comment at the top of the code.

    With ``simplify`` the code computes the let's simplified form (the default rules,
    lets unfolded, every rewrite checked numerically) instead of the form as written;
    ``check`` then compares it with the original. The header gives the FLOPs of both
    forms (:mod:`diagalg.cost`, at the path sizes) and the declared properties the
    simplification relied on (:func:`relied_properties`); the generated function (numpy
    and torch) takes ``check_properties=True`` and verifies those properties on its
    arguments first, raising ValueError naming the tensor and property."""
    if target not in TARGETS:
        raise ValueError(f"unknown export target {target!r} (one of {', '.join(TARGETS)})")
    if name in program.lets:
        let = program.lets[name]
        expr, labels, where = let.expr, let.labels, let.source
        pos = (where.path, where.line, where.col)
        title = f"{name}[{', '.join(labels)}]" if labels else name
    elif name in program.tensors:
        decl = program.tensors[name]
        expr, labels = program[name], decl.legs
        origin = program.origins.get(name)
        pos = (origin.path, origin.pos.line, origin.pos.col) if origin else (program.path, 0, 0)
        title = f"{name}[{', '.join(labels)}]"
    else:
        raise KeyError(name)
    try:
        start = unfold(expr)
        work = _without_derivatives(program, start)
        exporter = _Exporter(program, name, target, sizes)
        if simplify:
            from .engine import simplify as simplify_expr

            d = simplify_expr(start, subs=program.env.concrete_subs(), checked=True, env=program.env)
            work = d.result
            exporter.relied = relied_properties(d.steps)
            exporter.args_expr = start
            exporter.note = f"simplified by diagalg's default rules: {_one_line(expr_text(work))}"
            exporter.header = _simplify_header(program, start, work, exporter, target)
        elif work is not start:
            exporter.note = f"derivatives taken by diagalg's rules: {_one_line(expr_text(work))}"
        exported = exporter.run(work, tuple(labels), title, _one_line(expr_text(start)))
    except ExportError as e:
        path, line, col = pos
        text = None
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError:
            pass
        raise SourceError(f"cannot export {name} to {target}: {e}", line, col, path, text) from None
    if check:
        note = verify(exported, program, start, target)
        lines = exported.code.split("\n")
        head = next(k for k, line in enumerate(lines) if not line.startswith("#"))
        exported.code = "\n".join(lines[:head] + [f"# {note}"] + lines[head:])
        exported.check = note
    return exported


def _simplify_header(program: Program, start: Expr, work: Expr, exporter: _Exporter, target: str) -> list[str]:
    """Header lines of a ``--simplify`` export: the FLOPs of the form as written and of
    the simplified one, the declared properties relied on and how they are checked."""
    from .cost import cost_report

    dims = {str(s): v for s, v in exporter.path_sizes.items() if s not in program.env.derived}

    def flops(e: Expr) -> str:
        try:
            rep = cost_report(e, program.env, dims)
        except Exception as err:  # noqa: BLE001 - e.g. a derivative, which has no FLOP count
            return f"not counted ({type(err).__name__})"
        total = sympy.expand(rep.flops + rep.extra)
        value = int(sympy.sympify(total).subs(program.env.concrete_subs()).subs(exporter.path_sizes))
        return f"{scalar_text(total)} = {value:,}"

    syms = sorted(dim_symbols_in(start) | dim_symbols_in(work), key=str)
    at = ", ".join(f"{s}={exporter.path_sizes[s]}" for s in syms if s in exporter.path_sizes) or "no dimensions"
    lines = [f"FLOPs at {at}: as written {flops(start)}; simplified {flops(work)}"]
    if exporter.relied:
        props = ", ".join(f"{n} {p}" for n, p in exporter.relied)
        lines.append(f"relies on the declared properties: {props}")
        if target != "einsum":
            lines.append("checked on the arguments unless check_properties=False (ValueError if not within 1e-8)")
        else:
            lines.append("the operands must have these properties (the einsum form does not check them)")
    else:
        lines.append("relies on no declared property")
    return lines


def verify(exported: Exported, program: Program, expr: Expr, target: str, seed: int = 0) -> str:
    """Run the exported code on one random draw of the tensors it takes (diagalg's
    sampler, ``seed``) and compare with diagalg's own evaluation of ``expr`` (the let,
    unfolded, before any rewriting) by the equality criterion of ``diagalg check``.
    Returns one line saying what was found; never raises."""
    from .numeric import evaluate, sample_instance
    from .numeric.check import EQUAL_RTOL, SCALE_FLOOR

    try:
        inst, draw = sample_instance([expr], program.env, seed)
        fixed = sorted(set(draw.standins) & set(exported.literal_dims))
        if fixed:
            return (
                f"not checked: the code fixes {', '.join(fixed)} as declared, and the check would use "
                f"stand-in sizes ({draw.standin_text()})"
            )
        want = evaluate(expr, inst, exported.labels)
        namespace: dict = {}
        exec(compile(exported.code, f"<diagalg export {exported.entry}>", "exec"), namespace)
        arrays = [inst.arrays[a] for a in exported.args]
        if target == "einsum":
            got = sum(
                coeff * oe.contract(eq, *[inst.arrays[n] for n in names], optimize=path)
                for coeff, eq, names, path in namespace[exported.entry]
            )
        else:
            sizes = {k: inst.size(program.env.symbols[d]) for k, d in exported.size_args.items()}
            if target == "torch":
                try:
                    import torch
                except ImportError:
                    return "not checked here: torch is not installed"
                got = namespace[exported.entry](*[torch.from_numpy(a) for a in arrays], **sizes).numpy()
            else:
                got = namespace[exported.entry](*arrays, **sizes)
        got = np.asarray(got)
        if got.shape != want.array.shape:
            return f"CHECK FAILED: shape {got.shape}, diagalg's is {want.array.shape}"
        with np.errstate(all="ignore"):
            err = float(np.nanmax(np.abs(got - want.array))) if got.size else 0.0
        scale = max(SCALE_FLOOR, want.scale)
        at = ", ".join(f"{k}={v}" for k, v in draw.by_name().items()) or "no dimensions"
        if err <= EQUAL_RTOL * scale:
            return f"checked against diagalg's evaluation at {at} (seed {seed}): max error {err:.1g}"
        return f"CHECK FAILED against diagalg's evaluation at {at} (seed {seed}): max error {err:.3g}"
    except Exception as e:  # noqa: BLE001 - the check is a report, not a gate
        return f"not checked: {type(e).__name__}: {e}"


def _without_derivatives(program: Program, expr: Expr) -> Expr:
    """``expr`` with its derivatives taken symbolically (default rules, every rewrite
    checked numerically) when it has any; unchanged otherwise. Where a derivative
    remains, the exporter refuses it."""
    if not any(isinstance(n.op, DerivOp) for n in walk_nodes(expr)):
        return expr
    from .engine import simplify

    return simplify(expr, subs=program.env.concrete_subs(), unfold_lets=True, checked=True, env=program.env).result


# --------------------------------------------------------------------------- names and scalars


def _py_name(name: str, taken: set[str]) -> str:
    """A Python identifier for a .diag name (primes become ``_p``), unique in ``taken``."""
    base = re.sub(r"\W", "_", name.replace("'", "_p"))
    if keyword.iskeyword(base) or base in ("np", "oe", "torch", "math") or not base.isidentifier():
        base += "_"
    out, k = base, 2
    while out in taken:
        out, k = f"{base}_{k}", k + 1
    taken.add(out)
    return out


# --------------------------------------------------------------------------- the exporter


class _Exporter:
    def __init__(self, program: Program, name: str, target: str, sizes: dict[str, int] | None) -> None:
        self.program = program
        self.name = name
        self.target = target
        self.backend = BACKENDS.get(target, BACKENDS["numpy"])
        self.taken: set[str] = {"np", "oe", "torch", "math"}
        self.entry = _py_name(name, self.taken)
        self.arg_names: dict[str, str] = {}  # tensor name -> python name
        self.dim_names: dict[sympy.Symbol, str] = {}
        self.lines: list[str] = []
        self.paths: list[str] = []
        self.helpers: list[str] = []
        self.tmp = 0
        self.derived: dict[tuple, str] = {}  # (tensor, conj, inv) -> variable
        self.einsum_terms: list[str] = []
        self.note = ""  # said in the docstring / header (e.g. how derivatives were taken)
        self.header: list[str] = []  # further header comment lines (--simplify: FLOPs, properties)
        #: (tensor name, property) the simplified form relies on: checked at run time
        self.relied: list[tuple[str, str]] = []
        self.args_expr: Expr | None = None  # the expression whose tensors are the arguments (default: the exported one)
        env = program.env
        concrete = {str(s): v for s, v in env.concrete.items()}
        self.path_sizes: dict[sympy.Symbol, int] = {}
        given = dict(sizes or {})
        for nm, sym in env.symbols.items():
            if sym in env.derived:
                continue
            self.path_sizes[sym] = int(given.get(nm, concrete.get(nm, 64)))
        subs = {s: sympy.Integer(v) for s, v in self.path_sizes.items()}
        for sym, e in env.derived.items():
            self.path_sizes[sym] = int(sympy.sympify(e).subs(env.concrete_subs()).subs(subs))

    # ------------------------------------------------------------------ helpers
    def fresh(self, base: str = "t") -> str:
        self.tmp += 1
        return _py_name(f"{base}{self.tmp}", self.taken)

    def size(self, dim: sympy.Expr) -> int:
        return int(sympy.sympify(dim).subs(self.path_sizes))

    def dim_code(self, dim: sympy.Expr) -> str:
        """Python code for a dimension or coefficient (dimension names are variables)."""
        value = sympy.sympify(dim)
        if value.free_symbols:
            value = value.xreplace({s: sympy.Symbol(self.dim_var(s)) for s in value.free_symbols})
        return Printer({"standard": "python3"}).doprint(value)

    def dim_var(self, sym: sympy.Symbol) -> str:
        if sym not in self.dim_names:
            self.dim_names[sym] = _py_name(str(sym), self.taken)
        return self.dim_names[sym]

    def helper(self, key: str) -> None:
        if self.target == "einsum":
            raise ExportError(f"{key} is not a plain contraction (use --to numpy)")
        if key not in self.helpers:
            self.helpers.append(key)

    def arg(self, decl: TensorDecl) -> str:
        if decl.name not in self.arg_names:
            self.arg_names[decl.name] = _py_name(decl.name, self.taken)
        return self.arg_names[decl.name]

    # ------------------------------------------------------------------ driver
    def run(self, expr: Expr, labels: tuple[str, ...], title: str, text: str) -> Exported:
        # arguments in declaration order, named before any temporary (a simplified form
        # takes the arguments of the form as written: a drop-in replacement)
        used = tensor_decls_in(self.args_expr if self.args_expr is not None else expr)
        for name in self.program.tensors:
            if name in used:
                self.arg(used[name])
        if self.target == "einsum":
            if any(isinstance(n.op, BoxOp) for t in expr.terms for n in t.diagram.nodes):
                from itertools import islice

                from .expand import expand_terms

                # parenthesised sums distributed: one einsum per term (exact: the terms sum to E)
                terms = list(islice(expand_terms(expr), _MAX_EINSUM_TERMS + 1))
                if len(terms) > _MAX_EINSUM_TERMS:
                    raise ExportError(f"more than {_MAX_EINSUM_TERMS} terms once sums are distributed (use --to numpy)")
                expr = Expr.of([Term(t.coeff, t.diagram) for t in terms], expr.free_dims)
            for term in expr.terms:
                self.einsum_term(term, labels)
            return self.finish_einsum(expr, labels, title, text)
        result = self.expr(expr, labels)
        return self.finish(expr, labels, title, text, result)

    def expr(self, expr: Expr, order: Sequence[str]) -> str:
        """Emit code computing ``expr`` with axes ``order``; returns its variable."""
        parts: list[str] = []
        for term in expr.terms:
            if term.coeff == 0:
                continue
            parts.append(self.term(term, order))
        out = self.fresh()
        if not parts:
            shape = "(" + "".join(f"{self.dim_code(expr.free_dims[label])}, " for label in order) + ")"
            self.lines.append(f"{out} = {self.backend.zeros(shape)}")
        else:
            self.lines.append(f"{out} = " + " + ".join(parts))
        return out

    def term(self, term: Term, order: Sequence[str]) -> str:
        eq, operands, factors, shapes = self.contraction(term.diagram, order)
        coeff = term.coeff
        for f in factors:
            coeff = coeff * f
        coeff = sympy.sympify(coeff)
        if len(operands) == 1 and eq.split("->")[0] == eq.split("->")[1]:
            value = operands[0]  # nothing to contract or transpose
        elif operands:
            path, _ = oe.contract_path(eq, *shapes, shapes=True, optimize="auto")
            pname = f"_PATH_{len(self.paths) + 1}"
            self.paths.append(f"{pname} = {path!r}  # {eq}")
            value = f"oe.contract({eq!r}, {', '.join(operands)}, optimize={pname})"
        else:
            value = self.backend.scalar("1.0")
        if coeff == 1:
            return value
        if coeff == -1:
            return f"-{value}"
        return f"({self.dim_code(coeff)}) * {value}"

    # ------------------------------------------------------------------ one diagram
    def contraction(
        self, d: Diagram, order: Sequence[str]
    ) -> tuple[str, list[str], list[sympy.Expr], list[tuple[int, ...]]]:
        """(equation, operand codes, scalar factors, operand shapes at the path sizes)."""
        parent = {e: e for e, _ in d.edge_dims}

        def find(e: str) -> str:
            while parent[e] != e:
                parent[e] = parent[parent[e]]
                e = parent[e]
            return e

        factors: list[sympy.Expr] = []
        dense: list[tuple[str, tuple[str, ...]]] = []
        for node in d.nodes:
            op = node.op
            if isinstance(op, CopyTensor):
                if op.arity == 0:
                    factors.append(op.dim)
                for e in node.edges[1:]:
                    ra, rb = find(node.edges[0]), find(e)
                    if ra != rb:
                        parent[rb] = ra
            else:
                dense.append((self.operand(op), node.edges))
        classes = sorted({find(e) for e, _ in d.edge_dims})
        cdim = {find(e): dim for e, dim in d.edge_dims}
        letters = self.letters(d, classes, find)
        used = {find(e) for _, edges in dense for e in edges}
        ops: list[tuple[str, list[str], list[sympy.Expr]]] = [
            (code, [letters[find(e)] for e in edges], [cdim[find(e)] for e in edges]) for code, edges in dense
        ]
        out: list[str] = []
        spare = iter(c for c in _ALPHABET if c not in letters.values())
        for label in order:
            c = find(d.free_map[label])
            letter = letters[c]
            shared = [x for x in order if find(d.free_map[x]) == c]
            if letter in out or (c not in used and len(shared) > 1):  # a free identity
                if self.target == "einsum":
                    raise ExportError(
                        "a free identity (two free labels on one index) is not a plain contraction (use --to numpy)"
                    )
                used.add(c)  # the eye carries the index; a later label on it reads the eye's first axis
                new = next(spare)
                ops.append((self.backend.eye(self.dim_code(cdim[c])), [letter, new], [cdim[c], cdim[c]]))
                letter = new
            elif c not in used:  # a free label no operand carries: the all-ones vector
                if self.target == "einsum":
                    raise ExportError("a free label on no tensor (the all-ones vector) is not a plain contraction")
                ops.append((self.backend.ones(self.dim_code(cdim[c])), [letter], [cdim[c]]))
                used.add(c)
            out.append(letter)
        for c in classes:
            if c not in used and letters[c] not in out:
                factors.append(cdim[c])  # a closed loop: its dimension
        eq = ",".join("".join(ix) for _, ix, _ in ops) + "->" + "".join(out)
        shapes = [tuple(self.size(x) for x in dims) for _, _, dims in ops]
        return eq, [code for code, _, _ in ops], factors, shapes

    def letters(self, d: Diagram, classes: list[str], find: Callable[[str], str]) -> dict[str, str]:
        """An einsum letter per index class: a one-letter free label or edge name when
        available (the output reads like the .diag text), else the next free letter."""
        if len(classes) > len(_ALPHABET):
            raise ExportError(f"a term with {len(classes)} indices (einsum letters run out at {len(_ALPHABET)})")
        out: dict[str, str] = {}
        taken: set[str] = set()
        wishes: dict[str, list[str]] = {c: [] for c in classes}
        for label, e in d.free:
            wishes[find(e)].insert(0, label)
        for e, _ in d.edge_dims:
            wishes[find(e)].append(e)
        for c in classes:
            for w in wishes[c]:
                if len(w) == 1 and w in _ALPHABET and w not in taken:
                    out[c] = w
                    taken.add(w)
                    break
        rest = iter(x for x in _ALPHABET if x not in taken)
        for c in classes:
            if c not in out:
                out[c] = next(rest)
        return out

    def operand(self, op: Op) -> str:
        """Code for the array of a dense node, axes in the node's port order."""
        if isinstance(op, TensorOp):
            return self.tensor(op)
        if self.target == "einsum":
            what = {
                BoxOp: "a parenthesised sum",
                BubbleOp: "a bubble",
                ShiftOp: "shift",
                IndexOp: "onehot",
                ReshapeOp: "group/split",
                DerivOp: "diff",
            }.get(type(op), type(op).__name__)
            raise ExportError(f"{what} is not a plain contraction of declared tensors (use --to numpy)")
        if isinstance(op, BoxOp):
            return self.expr(op.inner, op.ports)
        if isinstance(op, BubbleOp):
            return self.bubble(op)
        if isinstance(op, ShiftOp):
            var = self.fresh("shift")
            self.lines.append(f"{var} = {self.backend.eye(self.dim_code(op.dim), -op.offset)}  # shift({op.offset})")
            return var
        if isinstance(op, IndexOp):
            var = self.fresh("onehot")
            self.lines.append(f"{var} = {self.backend.onehot(self.dim_code(op.dim), op.value)}")
            return var
        if isinstance(op, ReshapeOp):
            var = self.fresh("reshape")
            parts = [self.dim_code(p) for p in op.part_dims]
            whole = " * ".join(f"({p})" for p in parts)
            self.lines.append(f"{var} = {self.backend.eye(whole)}.reshape({', '.join(parts)}, {whole})")
            return var
        if isinstance(op, DerivOp):
            raise ExportError(f"diff(…, {op.wrt.text()}): the rules do not reduce this derivative to a closed form")
        raise ExportError(f"{type(op).__name__} nodes")

    def tensor(self, op: TensorOp) -> str:
        base = self.arg(op.decl)
        if not op.conj and op.inv % 2 == 0:
            return base
        key = (op.decl.name, op.conj, op.inv % 2)
        if key in self.derived:
            return self.derived[key]
        if self.target == "einsum":
            raise ExportError(f"{op.text()} is not a declared tensor (use --to numpy)")
        code = base
        if op.inv % 2:
            self.helper("inverse")
            decl = op.decl
            perm = [decl.legs.index(leg) for leg in decl.outputs + decl.inputs]
            n_out = " * ".join(f"({self.dim_code(decl.leg_dim(l))})" for l in decl.outputs)
            n_in = " * ".join(f"({self.dim_code(decl.leg_dim(l))})" for l in decl.inputs)
            shape = ", ".join(self.dim_code(decl.leg_dim(l)) for l in decl.inputs + decl.outputs)
            code = f"_inverse({code}, {perm}, {n_out}, {n_in}, ({shape},))"
        if op.conj:
            code = self.backend.conj(code)
        var = _py_name(("inv_" if op.inv % 2 else "") + ("conj_" if op.conj else "") + op.decl.name, self.taken)
        self.lines.append(f"{var} = {code}")
        self.derived[key] = var
        return var

    def bubble(self, op: BubbleOp) -> str:
        """Emit the bubble's code (its registry module's code for this backend); returns its variable."""
        inner_labels = op.inner.labels
        x = self.expr(op.inner, inner_labels)
        spec = BUBBLES.get(op.kind)
        if spec is None:
            raise ExportError(f"the {op.kind} bubble")
        code_of = spec.export.get(self.target)
        if code_of is None:
            raise ExportError(spec.no_export.format(name=op.func.name if op.func else "?"))
        if code_of.helper:
            self.helper(op.kind)
        axes = {f"axis{k}": inner_labels.index(a) for k, a in enumerate(op.axes)}
        param = self.dim_code(op.param) if op.param is not None else ""
        axes_code = "(" + "".join(f"{inner_labels.index(a)}, " for a in op.axes) + ")"  # inv, det: all roles
        code = code_of.call.format(x=x, param=param, axes=axes_code, **axes)
        var = self.fresh(op.kind)
        self.lines.append(f"{var} = {code}")
        return var

    # ------------------------------------------------------------------ einsum target
    def einsum_term(self, term: Term, order: Sequence[str]) -> None:
        if term.coeff == 0:
            return
        eq, operands, factors, shapes = self.contraction(term.diagram, order)
        coeff = sympy.sympify(term.coeff)
        for f in factors:
            coeff = coeff * f
        coeff = sympy.sympify(coeff).subs(self.program.env.concrete_subs())
        if coeff.free_symbols:
            raise ExportError(f"the coefficient {coeff} depends on symbolic dimensions (use --to numpy)")
        if not operands:
            raise ExportError("a term with no tensor (a pure scalar) is not an einsum")
        path, _ = oe.contract_path(eq, *shapes, shapes=True, optimize="auto")
        names = tuple(next(n for n, p in self.arg_names.items() if p == code) for code in operands)
        value = complex(sympy.N(coeff))
        num = repr(value.real) if value.imag == 0 else repr(value)
        self.einsum_terms.append(f"    ({num}, {eq!r}, {names!r}, {path!r}),")

    def property_checks(self) -> list[str]:
        """The lines (inside ``if check_properties:``) checking each relied-on property
        of an argument, via the module's ``_check_property``; none without relied ones."""
        out = []
        for name, prop in self.relied:
            decl = self.program.tensors.get(name)
            if decl is None or name not in self.arg_names:
                continue
            outputs = decl.outputs or decl.legs[:1]
            inputs = decl.inputs or tuple(l for l in decl.legs if l not in outputs)
            perm = [decl.legs.index(l) for l in outputs + inputs]
            out.append(f"_check_property({self.arg_names[name]}, {name!r}, {prop!r}, {perm!r}, {len(outputs)})")
        return out

    def sizes_note(self, expr: Expr) -> str:
        syms = sorted(
            dim_symbols_in(expr)
            | {s for decl in tensor_decls_in(expr).values() for d in decl.dims for s in sympy.sympify(d).free_symbols},
            key=str,
        )
        return ", ".join(f"{s}={self.path_sizes.get(s, '?')}" for s in syms) or "none"

    def finish_einsum(self, expr: Expr, labels: tuple[str, ...], title: str, text: str) -> Exported:
        var = f"{self.entry}_TERMS"
        head = [
            f"# {title} = {text}",
            *([f"# {self.note}"] if self.note else []),
            *[f"# {line}" for line in self.header],
            f"# exported by diagalg from {self.program.path}: {self.name} is the sum of",
            "#   coeff * numpy.einsum(equation, *operands, optimize=['einsum_path', *path])",
            "# (or opt_einsum.contract(equation, *operands, optimize=path)); operands are the",
            f"# declared tensors by name, axes in declared leg order; output axes: {', '.join(labels) or '(scalar)'}.",
            f"# paths optimised for sizes {self.sizes_note(expr)}",
            f"{var} = [",
            *self.einsum_terms,
            "]",
        ]
        sizes = {str(s): v for s, v in self.path_sizes.items()}
        return Exported("\n".join(head) + "\n", var, tuple(self.arg_names), labels, sizes)

    # ------------------------------------------------------------------ assembling the module
    def finish(self, expr: Expr, labels: tuple[str, ...], title: str, text: str, result: str) -> Exported:
        lib_import = "import numpy as np" if self.backend.lib == "np" else "import torch"
        args = list(self.arg_names.values())
        # every dimension the body uses: from an argument's shape when a leg has exactly that
        # dimension, else from a concrete value, a derived formula, or a keyword argument
        setup: list[str] = []
        derived_lines: list[str] = []
        literal: list[str] = []
        keyword_dims: list[str] = []
        resolved: set[sympy.Symbol] = set()
        pending = list(self.dim_names)
        while pending:
            sym = pending.pop(0)
            if sym in resolved:
                continue
            var = self.dim_names[sym]
            src = next(
                (
                    (self.arg_names[t], decl.dims.index(sym))
                    for t, decl in self.program.tensors.items()
                    if t in self.arg_names and sym in decl.dims
                ),
                None,
            )
            if src is not None:
                setup.append(f"{var} = {src[0]}.shape[{src[1]}]")
            elif sym in self.program.env.concrete:
                setup.append(f"{var} = {self.program.env.concrete[sym]}")
                literal.append(str(sym))
            elif sym in self.program.env.derived:
                formula = self.program.env.derived[sym]
                new = [s for s in sympy.sympify(formula).free_symbols if s not in self.dim_names]
                for s in new:
                    self.dim_var(s)
                    pending.append(s)
                derived_lines.insert(0, f"{var} = {self.dim_code(formula)}")
            else:
                keyword_dims.append(var)
            resolved.add(sym)
        setup += derived_lines  # a derived dimension's formula after its parts
        if self.backend.lib == "torch" and any("_dtype" in line for line in self.lines):
            # constant arrays (eye, ones, shift) in the arguments' floating type
            first = f"{args[0]}.dtype" if args else "torch.float64"
            setup.insert(
                0,
                f"_dtype = {first} if {first}.is_floating_point or {first}.is_complex else torch.float64"
                if args
                else "_dtype = torch.float64",
            )
        signature = ", ".join(args + (["*"] + [f"{k}: int" for k in keyword_dims] if keyword_dims else []))
        note = f"\n    ({self.note})" if self.note else ""
        doc = (
            f'    """{title} = {text}{note}\n\n'
            f"    Arguments: the declared tensors, axes in declared leg order.\n"
            f'    Returns: axes {", ".join(labels) or "(a scalar)"}.\n    """'
        )
        helpers = self.backend.helpers
        checks = self.property_checks()
        if checks:
            signature = ", ".join(args + ["*"] + [f"{k}: int" for k in keyword_dims] + ["check_properties=True"])
            doc = doc[: -len('    """')] + (
                "    check_properties: when true (the default), first verify on the arrays the declared\n"
                "    properties the simplified form relies on (within 1e-8); ValueError names the\n"
                '    tensor and property that fail.\n    """'
            )
        body = setup + (["if check_properties:"] + [f"    {c}" for c in checks] if checks else []) + self.lines
        helper_text = [helpers[key].rstrip("\n") for key in self.helpers]
        if checks:
            helper_text.append(f"_PROPERTY_TEXT = {PROPERTY_TEXT!r}\n\n\n" + CHECK_HELPER.rstrip("\n"))
        imports = [lib_import]
        if checks and self.backend.lib == "torch":
            imports.insert(0, "import numpy as np")
        if any(re.search(r"\bmath\.", part) for part in helper_text + body):
            imports.insert(0, "import math")
        out = [
            f"# {self.name}: exported by diagalg from {self.program.path} (--to {self.target})",
            *[f"# {line}" for line in self.header],
            f"# contraction paths by opt_einsum, optimised for sizes {self.sizes_note(expr)}",
            *imports,
            "import opt_einsum as oe",
            "",
            *self.paths,
        ]
        for part in helper_text:
            out += ["", part, ""]
        out += ["", f"def {self.entry}({signature}):", doc]
        out += [f"    {line}" for line in body]
        out.append(f"    return {result}")
        sizes = {str(s): v for s, v in self.path_sizes.items()}
        size_args = {v: str(s) for s, v in self.dim_names.items() if v in keyword_dims}
        return Exported(
            "\n".join(out) + "\n",
            self.entry,
            tuple(self.arg_names),
            labels,
            sizes,
            size_args,
            literal_dims=tuple(literal),
        )


_ALPHABET = string.ascii_lowercase + string.ascii_uppercase
#: the einsum form lists at most this many terms
_MAX_EINSUM_TERMS = 256


def _one_line(text: str, width: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
