"""Exact expansion (``expand``) and the paper's path expansion (``paths``), lazily.

Both work on an expression whose ``let``s are unfolded (:func:`diagalg.engine.unfold`):
a multi-term definition is then an unnamed box (a parenthesised sum) at each
place it is used.

* :func:`expand_terms` distributes every box: a term of the result picks one
  summand per box occurrence (recursively), and is labelled by the tags of the
  summands it picked (an untagged summand of a sum is tagged by its position,
  ``#2``). Sums inside a bubble's argument are expanded *inside* the bubble,
  which stays one node: the expansion is exact, the sum of its terms is the
  expression. :func:`count_terms` gives the number of terms without making them.
* :func:`paths` picks one summand for every occurrence of a *tagged* sum,
  including occurrences inside bubbles (a path through a bubble is then an
  approximation, and is marked so). In a residual sum, the summand that is one
  node passing the sum's labels straight through is the skip; the others are
  blocks. An occurrence inside a ``softmax[k]`` bubble that carries the query
  label has role Q, one that carries ``k`` has role K, and one outside the
  bubble contracted with ``k`` has role V. A path is named by the compositions
  it contains and has an order (the number of blocks it chose).

Enumeration is lazy (generators, depth-first), so an expansion with 13^12 terms
can be counted and streamed, never materialised.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Iterator, Mapping

from .model import (
    BoxOp,
    BubbleOp,
    DerivOp,
    Diagram,
    Expr,
    IndexOp,
    NestedOp,
    Node,
    Term,
    inline_diagram,
    map_nested,
    replace_node,
    resolve_merges,
    with_inner,
)

if TYPE_CHECKING:
    import sympy

    from .model import Op


__all__ = ["count_terms", "expand_terms", "Path", "paths", "count_paths", "is_skip", "skip_tags"]


# --------------------------------------------------------------------------- expand


def count_terms(expr: Expr, over: Mapping[str, int] | None = None, _memo: dict | None = None) -> int:
    """The number of terms :func:`expand_terms` yields for ``expr`` (exact, no enumeration;
    shared sub-expressions, such as one unfolded layer used by every head, count once)."""
    memo = {} if _memo is None else _memo
    over = over or {}
    key = id(expr)
    if key not in memo:
        total = 0
        for t in expr.terms:
            out = 1
            for e in _split_edges(t.diagram, over):
                out *= over[_base(e)]
            for n in t.diagram.nodes:
                if isinstance(n.op, BoxOp):
                    out *= count_terms(n.op.inner, over, memo)
            total += out
        memo[key] = (total, expr)  # keep expr alive: its id must not be reused
    return memo[key][0]


def _position_tags(e: Expr, k: int, t: Term) -> tuple[str, ...]:
    if t.tags:
        return t.tags
    return (f"#{k}",) if len(e.terms) > 1 else ()


def _base(edge: str) -> str:
    return edge.split("~")[0]


def _split_edges(d: Diagram, over: Mapping[str, int], among: Iterable[str] | None = None) -> list[str]:
    """The summed edges of ``d`` itself (not of its boxes; only those in ``among`` if
    given) that ``over`` splits, by label name. An edge a ``onehot`` already fixes (a
    selection ``W[h=1, ...]``, or ``onehot(1)[h]`` written out) is not split again: its
    other values are zero terms."""
    if not over:
        return []
    free = set(d.free_map.values())
    free |= {n.edges[0] for n in d.nodes if isinstance(n.op, IndexOp)}
    return sorted(e for e in (d.dims if among is None else among) if _base(e) in over and e not in free)


def fix_values(d: Diagram, split: list[str], over: Mapping[str, int]) -> Iterator[tuple[Diagram, tuple[str, ...]]]:
    """``d`` once per assignment of values to the edges ``split``, each fixed by a one-hot
    vector, with the tags (``h=3``) naming the assignment."""
    if not split:
        yield d, ()
        return
    for values in itertools.product(*(range(over[_base(e)]) for e in split)):
        nodes = d.nodes + tuple(Node(IndexOp(v, d.dims[e]), (e,)) for e, v in zip(split, values))
        yield Diagram.build(nodes, d.dims, d.free_map), tuple(f"{_base(e)}={v}" for e, v in zip(split, values))


def expand_terms(expr: Expr, over: Mapping[str, int] | None = None) -> Iterator[Term]:
    """Every term of the exact expansion of ``expr`` (lets already unfolded), with its
    provenance in ``Term.tags``. ``over`` maps label names to their (concrete) sizes:
    each summed edge with that name is split into one term per value, fixed by a
    one-hot vector and tagged ``h=3``. Promise: the terms sum to ``expr``."""
    for k, t in enumerate(expr.terms, 1):
        own = _position_tags(expr, k, t)
        for sub in _expand_term(t, over or {}):
            yield Term(sub.coeff, sub.diagram, own + sub.tags)


def _expand_term(t: Term, over: Mapping[str, int]) -> Iterator[Term]:
    for fixed, tags in _fixings(t, over):
        for sub in _expand_plain(fixed, over):
            yield Term(sub.coeff, sub.diagram, tags + sub.tags)


def _expand_plain(t: Term, over: Mapping[str, int]) -> Iterator[Term]:
    def inside(op: NestedOp) -> Expr:
        # exact: a bubble's argument is expanded inside the bubble, which stays one node
        if isinstance(op, BubbleOp):
            return Expr.of(list(expand_terms(op.inner)), op.inner.free_dims)
        return op.inner

    yield from _choose(map_nested(t.diagram, inside), t.coeff, (), over)


def _choose(d: Diagram, coeff: sympy.Expr, tags: tuple[str, ...], over: Mapping[str, int]) -> Iterator[Term]:
    """Each way of putting one term of every box's expansion in its place (depth first;
    the terms put in hold no boxes, so the boxes are taken in their original order)."""
    at = next((k for k, n in enumerate(d.nodes) if isinstance(n.op, BoxOp)), None)
    if at is None:
        yield Term(coeff, d, tags)
        return
    box = d.nodes[at].op
    assert isinstance(box, BoxOp)  # the node just found
    for sub in expand_terms(box.inner, over):
        yield from _choose(replace_node(d, at, sub.diagram), coeff * sub.coeff, tags + sub.tags, over)


def inline_box(
    diagram: Diagram, ports: Mapping[str, str], inner: Diagram, renamed: Mapping[str, str]
) -> tuple[Diagram, dict[str, str], dict]:
    """Add ``inner``'s nodes to ``diagram`` with its free labels glued to ``ports`` (fresh
    names for its other edges). Returns the new diagram, ``renamed`` updated with any
    edges the inner diagram merged, and the dimensions of the edges it created."""
    nodes, new_dims, merges = inline_diagram(diagram, ports, inner)
    d2 = Diagram.build(diagram.nodes + tuple(nodes), {**diagram.dims, **new_dims}, diagram.free_map)
    ren = dict(renamed)
    if merges:
        m = resolve_merges(merges)
        d2 = d2.rename_edges(m)
        ren = {k: m.get(v, v) for k, v in ren.items()}
        ren.update({k: v for k, v in m.items() if k not in ren})
    return d2, ren, new_dims


# --------------------------------------------------------------------------- paths


@dataclass(frozen=True)
class Path:
    """One path of :func:`paths`: its term, the blocks it chose, and its compositions."""

    term: Term
    blocks: tuple[str, ...]  # tags of the block summands chosen, outermost first
    compositions: tuple[str, ...]  # e.g. ("Q",), ("K", "V"), ("MLP",): roles of nested block choices
    approximate: bool  # a choice was made inside a nonlinear bubble

    @property
    def order(self) -> int:
        return len(self.blocks)

    @property
    def name(self) -> str:
        if not self.blocks:
            return "direct"
        if not self.compositions:
            return " + ".join(self.blocks)
        letters = "".join(r for r in "QKV" if r in self.compositions)
        if "MLP" in self.compositions:
            return f"{letters}-composition through an MLP" if letters else "MLP-composition"
        return f"{letters}-composition"

    @property
    def kind(self) -> str:
        """``order N``, ``approximate`` when a choice was made inside a bubble and, for a
        path through an MLP, how the MLP is read: its bubble holds only this path's share
        of its input, so the MLP is evaluated at that input alone (not at the whole
        residual stream, and not split linearly: the shares do not add up to the MLP)."""
        out = f"order {self.order}"
        if self.approximate:
            out += ", approximate"
        if "MLP" in self.compositions:
            out += ", MLP evaluated on this path's input alone"
        return out


@dataclass(frozen=True)
class _Choice:
    tags: tuple[str, ...]
    blocks: tuple[str, ...]
    roles: tuple[str, ...]
    approximate: bool


def is_skip(term: Term, labels: tuple[str, ...], siblings: Iterable[Term] | None = None) -> bool:
    """A residual skip: one node (a tensor or an unfolded definition) whose edges are
    exactly the sum's free labels, passed straight through, and (when the sum's other
    summands are given) read by one of them: the skip carries the block's own input.
    ``WP[s, e]`` in ``tok[s, t] WE[t, e] + WP[s, e]`` is one node on the sum's labels,
    but no other summand reads it, so that sum is an input, not a residual sum."""
    d = term.diagram
    if len(d.nodes) != 1 or term.coeff != 1:
        return False
    free_edges = set(d.free_map.values())
    if not (set(d.nodes[0].edges) == free_edges and len(free_edges) == len(labels)):
        return False
    if siblings is None:
        return True
    op = d.nodes[0].op
    return any(_reads(t.diagram, op) for t in siblings if t is not term)


def _reads(d: Diagram, op: Op) -> bool:
    """Whether ``op`` (a tensor or a definition) occurs in ``d``, at any depth."""
    for n in d.nodes:
        if n.op == op:
            return True
        if isinstance(n.op, (BoxOp, BubbleOp, DerivOp)) and any(_reads(t.diagram, op) for t in n.op.inner.terms):
            return True
    return False


def count_paths(
    expr: Expr, over: Mapping[str, int] | None = None, _memo: dict | None = None, skips: frozenset[str] = frozenset()
) -> int:
    """The number of paths :func:`paths` yields (no enumeration)."""
    memo = {} if _memo is None else _memo
    return _count_paths(expr, memo, "sum", over or {}, skips)


def _count_paths(e: Expr, memo: dict, how: str, over: Mapping[str, int], skips: frozenset[str]) -> int:
    key = (id(e), how)
    if key not in memo:
        per_term = []
        for t in e.terms:
            out = 1
            if how == "sum":
                for x in _split_edges(t.diagram, over):
                    out *= over[_base(x)]
            for n in t.diagram.nodes:
                op = n.op
                if isinstance(op, BoxOp) and _residual(op.inner, skips):
                    out *= _count_paths(op.inner, memo, "sum", over, skips)
                elif isinstance(op, (BoxOp, BubbleOp, DerivOp)):
                    out *= _count_paths(op.inner, memo, "nested", over, skips)
            per_term.append(out)
        if how == "sum":
            total = sum(per_term)
        else:  # a bubble or an untagged sum stays one node: one choice per term inside, combined
            total = 1
            for count in per_term:
                total *= count
        memo[key] = (total, e)
    return memo[key][0]


def _tagged(e: Expr) -> bool:
    return len(e.terms) > 1 and any(t.tags for t in e.terms)


def _is_skip(t: Term, labels: tuple[str, ...], skips: frozenset[str], siblings: Iterable[Term]) -> bool:
    """A skip summand: structurally (:func:`is_skip`), or tagged with a tag that was a
    skip before the lets were unfolded (:func:`skip_tags`)."""
    return bool(t.tags and t.tags[-1] in skips) or is_skip(t, labels, siblings)


def _residual(e: Expr, skips: frozenset[str]) -> bool:
    """A residual sum: tagged, with a skip summand. A sum without a skip (an embedding,
    token plus position, however it is written) is an input, kept whole by paths."""
    return _tagged(e) and any(_is_skip(t, e.labels, skips, e.terms) for t in e.terms)


def nested_sums(expr: Expr) -> Iterator[Expr]:
    """``expr`` and every expression nested in it (inside boxes, bubbles and derivatives),
    each object once: shared sub-expressions (a let used twice) are not walked twice."""
    seen: set[int] = set()
    stack = [expr]
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        for t in e.terms:
            for n in t.diagram.nodes:
                if isinstance(n.op, (BoxOp, BubbleOp, DerivOp)):
                    stack.append(n.op.inner)


def skip_tags(expr: Expr) -> frozenset[str]:
    """The tags of skip summands, read from ``expr`` *before* its lets are unfolded
    (tags are unique within a file, so they survive unfolding): a summand that is one
    bound name passing the sum's labels through (``skip1: y1[q, e]`` with y1 a let, even
    a one-term let that unfolding inlines into several factors) is the skip. The roles
    are assigned first and the lets unfolded after, as the contract says."""
    found: set[str] = set()
    for e in nested_sums(expr):
        if _tagged(e):
            found.update(t.tags[-1] for t in e.terms if t.tags and is_skip(t, e.labels, e.terms))
    return frozenset(found)


def paths(expr: Expr, over: Mapping[str, int] | None = None, skips: frozenset[str] = frozenset()) -> Iterator[Path]:
    """The paper's path expansion of ``expr`` (lets unfolded), lazily. ``over`` splits
    the summed labels of that name in every chosen summand (one path per head);
    ``skips`` are the tags of skip summands read before unfolding (:func:`skip_tags`)."""
    over = over or {}
    for k, t in enumerate(expr.terms, 1):
        for fixed, tags in _fixings(t, over):
            for choice, term in _path_term(fixed, {}, False, False, over, skips):
                yield Path(
                    Term(term.coeff, term.diagram, _position_tags(expr, k, t) + tags + choice.tags),
                    choice.blocks,
                    choice.roles,
                    choice.approximate,
                )


def _fixings(t: Term, over: Mapping[str, int]) -> Iterator[tuple[Term, tuple[str, ...]]]:
    """``t`` once per value of its own summed labels named in ``over`` (one-hot fixed)."""
    for d, tags in fix_values(t.diagram, _split_edges(t.diagram, over), over):
        yield Term(t.coeff, d, t.tags), tags


def _roles_here(d: Diagram, inherited: Mapping[str, str]) -> dict[str, str]:
    """Edge -> role for this diagram: inherited Q/K edges, plus V for the key edge of a
    softmax node sitting in this diagram."""
    roles = dict(inherited)
    for n in d.nodes:
        if isinstance(n.op, BubbleOp) and n.op.kind == "softmax":
            for port, e in zip(n.op.ports, n.edges):
                if port in n.op.axes:
                    roles.setdefault(e, "V")
    return roles


def _inner_roles(n: Node, sub: Diagram, outer_roles: Mapping[str, str]) -> dict[str, str]:
    """Roles of the edges of a bubble's (or box's) inner diagram ``sub``."""
    op = n.op
    out: dict[str, str] = {}
    port_edge = dict(zip(op.ports, n.edges))
    for label, e in sub.free_map.items():
        if isinstance(op, BubbleOp) and op.kind == "softmax":
            out[e] = "K" if label in op.axes else "Q"
        elif label in port_edge and outer_roles.get(port_edge[label]) in ("Q", "K"):
            out[e] = outer_roles[port_edge[label]]
    return out


def _path_term(
    t: Term,
    inherited: Mapping[str, str],
    in_bubble: bool,
    in_block: bool = False,
    over: Mapping[str, int] | None = None,
    skips: frozenset[str] = frozenset(),
) -> Iterator[tuple[_Choice, Term]]:
    d = t.diagram
    roles = _roles_here(d, inherited)
    slots: list[tuple[Node, object]] = []  # (node, generator factory or None)
    for n in d.nodes:
        op = n.op
        if isinstance(op, BoxOp) and _residual(op.inner, skips):
            slots.append((n, "sum"))
        elif isinstance(op, (BoxOp, BubbleOp)):
            slots.append((n, "nested"))
        else:
            slots.append((n, None))
    kept = [n for n, kind in slots if kind is None]
    work = [n for n, kind in slots if kind is not None]
    base = Diagram.build(kept, d.dims, d.free_map)
    yield from _path_choose(
        base, t.coeff, _Choice((), (), (), False), work, {}, roles, in_bubble, in_block, over or {}, skips
    )


def _role_of(n: Node, roles: Mapping[str, str], renamed: Mapping[str, str]) -> str | None:
    found = {roles.get(e) for e in n.edges} | {roles.get(renamed.get(e, e)) for e in n.edges}
    for r in ("Q", "K", "V"):
        if r in found:
            return r
    return None


def _path_choose(
    diagram: Diagram,
    coeff: sympy.Expr,
    acc: _Choice,
    work: list[Node],
    renamed: Mapping[str, str],
    roles: Mapping[str, str],
    in_bubble: bool,
    in_block: bool,
    over: Mapping[str, int],
    skips: frozenset[str] = frozenset(),
) -> Iterator[tuple[_Choice, Term]]:
    if not work:
        yield acc, Term(coeff, diagram, ())
        return
    n, rest = work[0], work[1:]
    op = n.op
    edges = tuple(renamed.get(e, e) for e in n.edges)
    if isinstance(op, BoxOp) and _residual(op.inner, skips):
        role = _role_of(n, roles, renamed)
        if role is None and in_bubble:
            role = "MLP"  # entering a nonlinear bubble that is not an attention pattern: an MLP
        labels = op.inner.labels
        for k, plain in enumerate(op.inner.terms, 1):
            skip = _is_skip(plain, labels, skips, op.inner.terms)
            for summand, fixed_tags in _fixings(plain, over):
                own_tag = _position_tags(op.inner, k, plain) + fixed_tags
                sub_roles = _inner_roles(n, summand.diagram, roles)
                for choice, sub in _path_term(summand, sub_roles, in_bubble, in_block or not skip, over, skips):
                    blocks = (() if skip else own_tag[:1]) + choice.blocks
                    # a block reached from inside another block is a composition: Q or K through a
                    # softmax's query or key side, otherwise V (the values; with frozen attention
                    # patterns this is the only kind)
                    composes = (role is not None or in_block) and bool(blocks)
                    c = _Choice(
                        acc.tags + own_tag + choice.tags,
                        acc.blocks + blocks,
                        acc.roles + ((role or "V",) if composes else ()) + choice.roles,
                        acc.approximate or choice.approximate or in_bubble,
                    )
                    yield from _inline_then(
                        diagram,
                        coeff * sub.coeff,
                        c,
                        n,
                        edges,
                        sub.diagram,
                        rest,
                        renamed,
                        roles,
                        in_bubble,
                        in_block,
                        over,
                        skips,
                    )
    else:
        # a bubble or an untagged box: choices inside it, the node stays (one term inside)
        assert isinstance(op, (BoxOp, BubbleOp))  # the work list holds boxes and bubbles only
        inner_bubble = in_bubble or isinstance(op, BubbleOp)
        sub_iters = []
        for t in op.inner.terms:
            sub_iters.append((t, _inner_roles(n, t.diagram, roles)))

        def per_term(i: int, acc2: _Choice, done: tuple[Term, ...]) -> Iterator[tuple[_Choice, tuple[Term, ...]]]:
            if i == len(sub_iters):
                yield acc2, done
                return
            t, r = sub_iters[i]
            for choice, sub in _path_term(t, r, inner_bubble, in_block, over, skips):
                c = _Choice(
                    acc2.tags + choice.tags,
                    acc2.blocks + choice.blocks,
                    acc2.roles + choice.roles,
                    acc2.approximate or choice.approximate,
                )
                yield from per_term(i + 1, c, done + (Term(sub.coeff, sub.diagram, t.tags),))

        for c, terms in per_term(0, acc, ()):
            new_op = with_inner(op, Expr.of(list(terms), op.inner.free_dims))
            d2 = Diagram.build(diagram.nodes + (Node(new_op, edges),), diagram.dims, diagram.free_map)
            yield from _path_choose(d2, coeff, c, rest, renamed, roles, in_bubble, in_block, over, skips)


def _inline_then(
    diagram: Diagram,
    coeff: sympy.Expr,
    acc: _Choice,
    box: Node,
    edges: tuple[str, ...],
    sub: Diagram,
    rest: list[Node],
    renamed: Mapping[str, str],
    roles: Mapping[str, str],
    in_bubble: bool,
    in_block: bool,
    over: Mapping[str, int],
    skips: frozenset[str] = frozenset(),
) -> Iterator[tuple[_Choice, Term]]:
    d2, ren, _ = inline_box(diagram, dict(zip(box.op.ports, edges)), sub, renamed)
    yield from _path_choose(d2, coeff, acc, rest, ren, roles, in_bubble, in_block, over, skips)
