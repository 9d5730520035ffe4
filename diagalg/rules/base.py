"""The rule interface: a *matcher* finds sites, a *rewriter* turns one site into an edit.

Rules are registered by name (``@register``), one module per rule, the pattern
PyZX uses. A rewrite is either an :class:`Edit` of one diagram (node-disjoint
edits found in one scan are applied together in one pass, so a rule costs
O(diagram) per pass, not per site) or, for rules that split a term into a sum
(``distribute``), a list of (coefficient, diagram) pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping, Protocol, Sequence

import sympy

from ..model import Diagram, Expr, Node, Term, resolve_merges


@dataclass(frozen=True)
class Site:
    """Where a rule applies: the nodes it consumes (for disjointness) and rule data."""

    nodes: tuple[int, ...]
    edges: tuple[str, ...] = ()
    data: object = None


@dataclass(frozen=True)
class Edit:
    """A local change: remove nodes, replace nodes, add nodes and edges, merge and drop
    edges, and multiply the coefficient."""

    remove: tuple[int, ...] = ()
    replace: tuple[tuple[int, Node], ...] = ()
    add: tuple[Node, ...] = ()
    new_edges: tuple[tuple[str, sympy.Expr], ...] = ()
    merge: tuple[tuple[str, str], ...] = ()
    drop_edges: tuple[str, ...] = ()
    factor: sympy.Expr = sympy.Integer(1)


Rewrite = Edit | list[tuple[sympy.Expr, Diagram]]


class Rewriter(Protocol):
    """What the engine needs of a rule on one diagram: a built-in :class:`Rule` or a
    user rule (:class:`~diagalg.rules.user.UserRuleRewriter`)."""

    name: str

    def match(self, diagram: Diagram) -> Iterator[Site]:
        """Sites where the rule applies (may overlap; the engine keeps disjoint ones)."""

    def rewrite(self, diagram: Diagram, site: Site) -> Rewrite:
        """The rewrite of one site."""


class RuleInfo(Protocol):
    """What every registered rule class carries (checked by :func:`register`).

    ``default``: used by ``assert`` when no rule is named; ``inside_derivative``:
    sound inside a derivative's argument, where the entries of the variable are
    independent (no declared property may be used); ``on_sums``: works on a whole
    sum (then the class has ``apply(expr, subs)`` instead of ``match``/``rewrite``);
    ``order``: the rule's place in the sequence the engine tries rules in (lower
    first) — the default set and every derived set list rules in this order.
    """

    name: str
    description: str
    default: bool
    inside_derivative: bool
    on_sums: bool
    order: int


class Rule(RuleInfo, Rewriter, Protocol):
    """A registered rule on one diagram (``match`` / ``rewrite``)."""


class SumRule(RuleInfo, Protocol):
    """A registered rule on whole sums (``on_sums``)."""

    def apply(self, expr: Expr, subs: Mapping[Any, Any] | None = None) -> Expr:
        """``expr`` rewritten as a whole; ``subs`` gives concrete dimensions their values."""


class ResimplifyingSumRule(SumRule, Protocol):
    """A sum rule marked ``resimplify`` (``pow_sum``): besides ``apply`` it lists its
    rewrites, so the engine can record each as a step, check it and simplify the new terms."""

    def rewrites(self, expr: Expr, subs: Mapping[Any, Any] | None = None) -> list[tuple[list[int], list[Term]]]:
        """Each group of term positions it replaces, with the terms replacing them."""


#: The attributes :func:`register` requires of a rule class, with their types.
RULE_ATTRIBUTES: dict[str, type] = {
    "name": str,
    "description": str,
    "default": bool,
    "inside_derivative": bool,
    "on_sums": bool,
    "order": int,
}

_REGISTRY: dict[str, Rule] = {}  # rules on one diagram (match / rewrite)
_SUM_REGISTRY: dict[str, SumRule] = {}  # rules on whole sums (apply)


def register(rule_cls: type[Any]) -> type[Any]:
    """Class decorator: instantiate and register a rule under its ``name``.

    Refuses (TypeError) a class lacking one of :data:`RULE_ATTRIBUTES` (declared on
    the class itself, so a subclass cannot silently inherit another rule's set
    membership), a second rule of one name, and a rule marked both
    ``uses_declared_properties`` and ``inside_derivative`` (unsound inside diff)."""
    for attr, typ in RULE_ATTRIBUTES.items():
        if attr not in vars(rule_cls) or not isinstance(vars(rule_cls)[attr], typ):
            raise TypeError(f"rule class {rule_cls.__name__} must declare {attr}: {typ.__name__}")
    if getattr(rule_cls, "uses_declared_properties", False) and rule_cls.inside_derivative:
        raise TypeError(f"rule {rule_cls.name} uses declared properties: it cannot be used inside a derivative")
    if rule_cls.name in _REGISTRY or rule_cls.name in _SUM_REGISTRY:
        raise TypeError(f"a rule named {rule_cls.name!r} is already registered")
    inst = rule_cls()
    (_SUM_REGISTRY if rule_cls.on_sums else _REGISTRY)[inst.name] = inst
    return rule_cls


def get_rule(name: str) -> Rule | SumRule:
    """The registered rule ``name`` (diagram or sum rule); KeyError when there is none."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    return _SUM_REGISTRY[name]


def registered() -> dict[str, Rule]:
    """The registered rules that rewrite one diagram (``match``/``rewrite``), by name."""
    return dict(_REGISTRY)


def all_rules() -> dict[str, Rule | SumRule]:
    """Every registered rule, diagram and sum rules, by name in the engine's order."""
    rules: dict[str, Rule | SumRule] = {**_REGISTRY, **_SUM_REGISTRY}
    return {n: rules[n] for n in sorted(rules, key=lambda n: (getattr(rules[n], "order", 0), n))}


def apply_edits(diagram: Diagram, edits: Sequence[Edit]) -> tuple[sympy.Expr, Diagram]:
    """Apply node-disjoint edits in one pass. Returns (coefficient factor, new diagram)."""
    removed: set[int] = set()
    replaced: dict[int, Node] = {}
    added: list[Node] = []
    dims = dict(diagram.dims)
    merges: list[tuple[str, str]] = []
    drops: set[str] = set()
    factor = sympy.Integer(1)
    for e in edits:
        removed.update(e.remove)
        replaced.update(e.replace)
        added.extend(e.add)
        dims.update(e.new_edges)
        merges.extend((a, b) for a, b in e.merge if a != b)
        drops.update(e.drop_edges)
        factor = factor * e.factor
    nodes = [replaced.get(i, n) for i, n in enumerate(diagram.nodes) if i not in removed]
    nodes.extend(added)
    for edge in drops:
        dims.pop(edge, None)
    d = Diagram.build(nodes, dims, diagram.free_map)
    if merges:
        d = d.rename_edges(resolve_merges(merges))
    return factor, d


def disjoint_sites(sites: Iterable[Site]) -> list[Site]:
    """Greedily keep sites that share no node and no edge with an earlier kept site."""
    taken_nodes: set[int] = set()
    taken_edges: set[str] = set()
    out = []
    for s in sites:
        if taken_nodes.intersection(s.nodes) or taken_edges.intersection(s.edges):
            continue
        taken_nodes.update(s.nodes)
        taken_edges.update(s.edges)
        out.append(s)
    return out


def exclusive_edge(diagram: Diagram, edge: str, a: tuple[int, int], b: tuple[int, int]) -> bool:
    """True when ``edge`` joins exactly ports ``a`` and ``b`` (node, port) and carries no label."""
    inc = diagram.incidence[edge]
    return len(inc) == 2 and set(inc) == {a, b} and not diagram.edge_labels[edge]


def cancel_pair(diagram: Diagram, i: int, j: int, kept: tuple[str, ...]) -> Edit:
    """Remove nodes ``i`` and ``j`` whose other legs are joined pairwise, and join
    their same-named ``kept`` legs by identities (edge merges): the rewrite of
    V†V = I and X X⁻¹ = I."""
    a, b = diagram.nodes[i], diagram.nodes[j]
    merges = tuple((b.edges[b.op.ports.index(l)], a.edges[a.op.ports.index(l)]) for l in kept)
    joined = [a.edges[a.op.ports.index(l)] for l in a.op.ports if l not in kept]
    return Edit(remove=(i, j), merge=merges, drop_edges=tuple(joined))


def legs_joined(diagram: Diagram, i: int, j: int, legs: tuple[str, ...]) -> bool:
    """True when every leg in ``legs`` of node i shares an exclusive edge with the same leg of node j."""
    a, b = diagram.nodes[i], diagram.nodes[j]
    pa, pb = a.op.ports, b.op.ports
    for leg in legs:
        ka, kb = pa.index(leg), pb.index(leg)
        if a.edges[ka] != b.edges[kb] or not exclusive_edge(diagram, a.edges[ka], (i, ka), (j, kb)):
            return False
    return True


def neighbours_on_leg(diagram: Diagram, i: int, leg: str) -> list[int]:
    """Other nodes on the edge of node i's leg ``leg``."""
    node = diagram.nodes[i]
    edge = node.edges[node.op.ports.index(leg)]
    return [n for n, _ in diagram.incidence[edge] if n != i]
