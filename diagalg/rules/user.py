"""User rules: ``rule NAME: L -> R`` applied wherever ``L`` occurs, with any labels.

The left side must be a single term ``c_L * D_L`` (a product of tensors, no
sum). A site is an occurrence of ``D_L`` in a diagram (:mod:`diagalg.match`):
the matched nodes are removed, with the edges only they used (the images of
``L``'s contracted labels), and each term ``c_R * D_R`` of the right side is
put in their place with its free labels glued to the target edges that the
same free labels of ``L`` matched (its contracted labels get fresh edges),
with coefficient ``c_R / c_L``. Since the identity ``c_L D_L = sum c_R D_R``
holds for every value of the free labels, gluing two of them to one edge (a
trace, a diagonal) is sound.

A one-term right side is an :class:`~diagalg.rules.base.Edit` (all
node-disjoint occurrences are rewritten in one pass); a sum (or zero) right
side splits the term, one occurrence per step.

Tensor ports are matched in declared order (``leg_symmetries=False``, the
default; copy-tensor ports are always interchangeable): see
:mod:`diagalg.match` for why. A rule whose right side is not smaller than its
left side (``shrinks`` is False) may not terminate; the engine applies it at
most once per distinct term (see :mod:`diagalg.engine`).
"""

from __future__ import annotations

from typing import Iterable, Iterator

import sympy

from ..match import Match, Pattern, find_matches
from ..model import Diagram, inline_diagram, resolve_merges
from ..program import Program, UserRule
from .base import Edit, Rewrite, Rewriter, Site

__all__ = ["UserRuleRewriter", "user_rules"]


def _rule_text(rule: UserRule) -> str:
    text = rule.source.text.strip()
    head = f"rule {rule.name}:"
    if text.startswith(head):
        return text[len(head) :].strip()
    try:
        from ..printing import expr_text

        return f"{expr_text(rule.lhs)} -> {expr_text(rule.rhs)}"
    except Exception:  # pragma: no cover - printing is best effort here
        return text


class UserRuleRewriter:
    """The :class:`~diagalg.rules.base.Rule` of one user rule (``name`` = the rule's name).

    Raises ValueError when the left side is not a single nonzero term made of
    tensors (a sum, zero, a bare scalar, or an identity/all-ones/loop edge).
    """

    def __init__(self, rule: UserRule, leg_symmetries: bool = False) -> None:
        self.rule = rule
        self.name = rule.name
        self.description = f"user rule: {_rule_text(rule)}"
        terms = rule.lhs.terms
        if len(terms) != 1:
            what = "is zero" if not terms else f"is a sum of {len(terms)} terms"
            raise ValueError(f"rule '{rule.name}': the left side {what}; it must be a single product of tensors")
        (lhs,) = terms
        self.lhs_coeff = sympy.sympify(lhs.coeff)
        if self.lhs_coeff == 0:
            raise ValueError(f"rule '{rule.name}': the left side has coefficient 0")
        try:
            self.pattern = Pattern(lhs.diagram, leg_symmetries)
        except ValueError as err:
            raise ValueError(f"rule '{rule.name}': {err}") from None
        if set(rule.rhs.labels) != set(rule.lhs.labels):
            raise ValueError(
                f"rule '{rule.name}': the two sides have different free labels "
                f"({sorted(rule.lhs.labels)} and {sorted(rule.rhs.labels)})"
            )
        self.lhs_free = lhs.diagram.free_map  # label -> pattern edge
        self.internal = tuple(sorted(self.pattern.internal))
        # right-side terms with coefficient c_R / c_L; zero terms dropped (a zero right side
        # makes the occurrence vanish)
        self.rhs = tuple((c, t.diagram) for t in rule.rhs.terms if (c := sympy.sympify(t.coeff) / self.lhs_coeff) != 0)
        self.shrinks = _shrinks(lhs.diagram, [d for _, d in self.rhs])

    # ------------------------------------------------------------------ Rule protocol

    def match(self, diagram: Diagram) -> Iterator[Site]:
        """Node-disjoint occurrences, greedily in search order: the sites the engine
        would keep anyway, without enumerating every overlapping (or, for a
        pattern in several pieces, every combined) occurrence. :meth:`all_sites`
        gives them all."""
        for m in find_matches(self.pattern, diagram, disjoint=True):
            yield Site(m.nodes, data=m)

    def all_sites(self, diagram: Diagram) -> Iterator[Site]:
        """Every occurrence of the left side, overlapping ones included."""
        for m in find_matches(self.pattern, diagram):
            yield Site(m.nodes, data=m)

    def rewrite(self, diagram: Diagram, site: Site) -> Rewrite:
        m: Match = site.data  # type: ignore[assignment]
        # node indices from the site, not the match: a site cut out of its diagram
        # (checked mode's local view) renumbers its nodes but keeps its edges
        at = site.nodes
        emap = m.edge_map
        glue = {label: emap[e] for label, e in self.lhs_free.items()}
        dropped = tuple(emap[e] for e in self.internal)
        tag = min(at)
        if len(self.rhs) == 1:
            coeff, rhs = self.rhs[0]
            nodes, new_dims, merges = inline_diagram(diagram, glue, rhs, tag=f"u{tag}")
            return Edit(
                remove=at,
                add=tuple(nodes),
                new_edges=tuple(new_dims.items()),
                merge=tuple(merges),
                drop_edges=dropped,
                factor=coeff * m.sign,
            )
        removed = set(at)
        rest = [n for i, n in enumerate(diagram.nodes) if i not in removed]
        gone = set(dropped)
        base_dims = {e: d for e, d in diagram.edge_dims if e not in gone}
        out: list[tuple[sympy.Expr, Diagram]] = []
        for coeff, rhs in self.rhs:
            nodes, new_dims, merges = inline_diagram(diagram, glue, rhs, tag=f"u{tag}")
            d = Diagram.build(rest + nodes, {**base_dims, **new_dims}, diagram.free_map)
            if merges:
                d = d.rename_edges(resolve_merges(merges))
            out.append((coeff * m.sign, d))
        return out


def _shrinks(lhs: Diagram, rhs: list[Diagram]) -> bool:
    """Whether every right-side term is smaller than the left side under the engine's
    termination measure. Free edges stay in the host diagram, so they are not counted;
    gluing right-side labels together only removes edges."""
    from ..engine import diagram_measure

    def inner(d: Diagram) -> int:
        return diagram_measure(d) - len(set(d.free_map.values()))

    size = inner(lhs)
    return all(inner(d) < size for d in rhs)


def user_rules(program: Program, names: Iterable[str] | None = None) -> dict[str, Rewriter]:
    """Rewriters for the program's user rules (all of them, or those in ``names``).

    Raises ValueError for a rule whose left side cannot be matched (see
    :class:`UserRuleRewriter`); KeyError for an unknown name.
    """
    chosen = program.rules if names is None else {n: program.rules[n] for n in names}
    return {name: UserRuleRewriter(rule) for name, rule in chosen.items()}
