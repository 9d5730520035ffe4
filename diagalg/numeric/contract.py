"""Contracting one diagram: a single einsum over its dense nodes.

Edges are einsum indices. Copy tensors are never materialised: their edges are
merged into one index (union-find), which is exactly einsum's shared index.
``shift`` and reshape (``group``/``split``) nodes are applied as operations on a
neighbouring operand where that is exact, and only otherwise become small dense
0/1 arrays (see :func:`_absorb_shift` and :func:`_absorb_reshape`).
The contraction follows an order searched once per network wiring and carried
out pairwise in linear time (:mod:`diagalg.numeric.plan`); the largest
intermediate is checked against the memory cap before anything is contracted,
and a contraction that exceeds it is sliced into pieces that fit
(:mod:`diagalg.numeric.slicing`) or refused.

The arithmetic is pluggable: everything above (copy tensors, shift, reshape,
dense fallbacks, diagonals of the output) only moves, pads or copies entries,
and the two operations that compute (the contraction of the dense operands and
the scaling by an integer factor) go through a :class:`Backend`. The default
:data:`FLOAT` backend is float64/complex128 arithmetic with opt_einsum; the
exact oracle (:mod:`diagalg.numeric.modp`) passes one that works modulo a prime.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import numpy as np
import opt_einsum as oe
import sympy

from ..model import CopyTensor, Diagram, Node, ReshapeOp, ShiftOp
from . import slicing
from .errors import check_memory, format_count
from .plan import Order, contraction_order, cost_of, run_order
from .slicing import SlicePlan, contract_sliced

#: opt_einsum strategy: 'auto' picks optimal paths for few operands and greedy ones for many.
PATH_STRATEGY = "auto"


class Backend(Protocol):
    """The arithmetic of a contraction.

    ``contract(operands, out_ids, memory_cap)``: the contraction of dense operands
    (arrays with integer index ids, no id repeated within one operand) into the
    axes ``out_ids``, raising :class:`MemoryCapError` when it cannot be done within
    ``memory_cap`` bytes. ``scale(coeff, arr)``: ``coeff * arr`` for a Python
    integer ``coeff`` (a loop count, a product of sizes).
    """

    def contract(
        self, operands: list[tuple[np.ndarray, list[int]]], out_ids: list[int], memory_cap: int
    ) -> np.ndarray: ...

    def scale(self, coeff: int, arr: np.ndarray) -> np.ndarray: ...


class FloatBackend:
    """Floating-point arithmetic: opt_einsum along the cached path (sliced past the memory
    cap), and :func:`scale_array`."""

    def contract(self, operands: list[tuple[np.ndarray, list[int]]], out_ids: list[int], memory_cap: int) -> np.ndarray:
        return _contract(operands, out_ids, memory_cap)

    def scale(self, coeff: int, arr: np.ndarray) -> np.ndarray:
        return scale_array(coeff, arr)


#: The backend of the float oracle (the default of :func:`contract_diagram`).
FLOAT = FloatBackend()


@dataclass
class _Dense:
    array: np.ndarray
    edges: list[str]


@dataclass
class _Pending:
    op: ShiftOp | ReshapeOp
    edges: list[str]


@dataclass
class _State:
    """The term being contracted: live edges and their sizes, dense operands,
    not-yet-applied shift/reshape nodes, copy tensors, and the output slots
    (label -> edges; several edges for an output that a reshape groups)."""

    edge_size: dict[str, int]
    dense: list[_Dense]
    pending: list[_Pending]
    copies: list[list[str]]
    slots: dict[str, list[str]]

    def incidence(self) -> dict[str, list[tuple[str, int, int]]]:
        """Edge -> touches, each ("dense" | "pending" | "copy", operand index, port index)."""
        inc: dict[str, list[tuple[str, int, int]]] = {e: [] for e in self.edge_size}
        groups: tuple[tuple[str, Sequence[_Dense | _Pending]], ...] = (("dense", self.dense), ("pending", self.pending))
        for kind, group in groups:
            for i, item in enumerate(group):
                for p, e in enumerate(item.edges):
                    inc[e].append((kind, i, p))
        for i, edges in enumerate(self.copies):
            for p, e in enumerate(edges):
                inc[e].append(("copy", i, p))
        return inc

    def output_edges(self) -> set[str]:
        return {e for edges in self.slots.values() for e in edges}

    def labels_on(self, edge: str) -> list[str]:
        return [label for label, edges in self.slots.items() if edges == [edge]]


def contract_diagram(
    diagram: Diagram,
    labels: Sequence[str],
    operand: Callable[[Node], np.ndarray],
    size: Callable[[sympy.Expr], int],
    memory_cap: int,
    backend: Backend = FLOAT,
) -> np.ndarray:
    """The value of ``diagram`` as an array with axes ``labels`` (its free labels, in
    that order). ``operand(node)`` gives the array of a dense node (tensor, box,
    bubble, derivative) with axes in the node's port order; ``size`` gives the size
    of a dimension. Raises :class:`MemoryCapError` before contracting when an
    intermediate, the output or a fallback dense array would exceed ``memory_cap``.
    ``backend`` does the arithmetic (see the module docstring); the structural
    steps are the same for every backend.
    """
    if sorted(labels) != sorted(diagram.labels):
        raise ValueError(f"labels {list(labels)} are not the diagram's free labels {list(diagram.labels)}")
    edge_size = {e: size(d) for e, d in diagram.edge_dims}
    st = _State(edge_size, [], [], [], {label: [e] for label, e in diagram.free})
    factor = 1
    for node in diagram.nodes:
        op = node.op
        if isinstance(op, CopyTensor):
            if op.arity == 0:
                factor *= size(op.dim)  # a copy tensor with no legs is the sum of ones
            st.copies.append(list(node.edges))
        elif isinstance(op, (ShiftOp, ReshapeOp)):
            st.pending.append(_Pending(op, list(node.edges)))
        else:
            arr = np.asarray(operand(node))
            want = tuple(edge_size[e] for e in node.edges)
            if arr.shape != want:
                raise ValueError(f"a {type(op).__name__} operand has shape {arr.shape}; its edges need {want}")
            st.dense.append(_Dense(arr, list(node.edges)))

    # apply one pending node at a time (each changes the incidence) until none applies
    while any(_absorb(st, i) for i in range(len(st.pending))):
        pass
    for p in st.pending:
        st.dense.append(_Dense(_dense_structural(p, st.edge_size, memory_cap), p.edges))
    st.pending = []
    return np.asarray(backend.scale(factor, _einsum(st, labels, memory_cap, backend)))


def scale_array(coeff: float | complex, arr: np.ndarray) -> np.ndarray:
    """``coeff * arr``, scaling real and imaginary parts separately for a real
    coefficient: numpy would promote it to complex, and (c + 0j)·(−inf + 0j) has a
    NaN imaginary part (0·inf), which would destroy a masked (causal) entry
    carrying a complex-step perturbation."""
    if coeff == 1:
        return arr
    if isinstance(coeff, complex) or not np.iscomplexobj(arr):
        return coeff * arr
    out = np.empty_like(arr)
    out.real = arr.real * coeff
    out.imag = arr.imag * coeff
    return out


# --------------------------------------------------------------------------- shift and reshape


def _absorb(st: _State, i: int) -> bool:
    """Apply pending node ``i`` to a neighbour if that is exact; True when done."""
    p = st.pending[i]
    done = _absorb_shift(st, p) if isinstance(p.op, ShiftOp) else _absorb_reshape(st, p)
    if done:
        del st.pending[i]
    return done


def _only_dense_neighbour(st: _State, inc: dict, edge: str, pending: _Pending) -> tuple[int, int] | None:
    """(operand, axis) when ``edge`` is internal and touches only ``pending`` (once)
    and one port of one dense operand."""
    if edge in st.output_edges():
        return None
    touches = inc[edge]
    mine = [t for t in touches if t[0] == "pending" and st.pending[t[1]] is pending]
    others = [t for t in touches if t not in mine]
    if len(mine) != 1 or len(others) != 1 or others[0][0] != "dense":
        return None
    return others[0][1], others[0][2]


def _absorb_shift(st: _State, p: _Pending) -> bool:
    """``shift(o)[a, b]`` is 1 where a == b + o, so contracting it with an operand's
    axis on b moves that axis to a as ``T[a - o]``, and on a moves it to b as
    ``T[b + o]``, zero-padded. This is exact only when the contracted edge is
    internal and shared with nothing else: on a hyperedge or a free edge the
    same index would also be read unshifted by the other users, so the shift is
    then a dense 0/1 matrix instead."""
    assert isinstance(p.op, ShiftOp)  # _absorb passes shifts only
    a, b = p.edges
    if a == b:
        return False
    inc = st.incidence()
    for edge, other, k in ((b, a, -p.op.offset), (a, b, p.op.offset)):
        hit = _only_dense_neighbour(st, inc, edge, p)
        if hit is None:
            continue
        d, axis = hit
        st.dense[d].array = shift_axis(st.dense[d].array, axis, k)
        st.dense[d].edges[axis] = other
        del st.edge_size[edge]
        return True
    return False


def shift_axis(arr: np.ndarray, axis: int, k: int) -> np.ndarray:
    """``out[..., i, ...] = arr[..., i + k, ...]``, zero where ``i + k`` is out of range."""
    n = arr.shape[axis]
    out = np.zeros_like(arr)
    if abs(k) >= n:
        return out
    dst = [slice(None)] * arr.ndim
    src = [slice(None)] * arr.ndim
    if k >= 0:
        dst[axis], src[axis] = slice(0, n - k), slice(k, n)
    else:
        dst[axis], src[axis] = slice(-k, n), slice(0, n + k)
    out[tuple(dst)] = arr[tuple(src)]
    return out


def _absorb_reshape(st: _State, p: _Pending) -> bool:
    """The reshaping tensor (parts, whole) applied without materialising it:

    * split: the whole edge is internal and meets one operand axis, which is
      reshaped (row-major) into the parts;
    * merge: every part edge is internal and meets the same operand, whose part
      axes are moved together and flattened into the whole;
    * output: the whole edge carries one free label and nothing else, so the
      parts are kept as output axes and flattened after the contraction.

    Otherwise (hyperedges, repeated parts, copy tensors on the parts) the node
    is left for the dense fallback.
    """
    parts, whole = p.edges[:-1], p.edges[-1]
    if len(set(parts)) != len(parts) or whole in parts:
        return False
    inc = st.incidence()
    hit = _only_dense_neighbour(st, inc, whole, p)
    if hit is not None:
        d, axis = hit
        dense = st.dense[d]
        shape = dense.array.shape
        dense.array = dense.array.reshape(shape[:axis] + tuple(st.edge_size[e] for e in parts) + shape[axis + 1 :])
        dense.edges[axis : axis + 1] = parts
        del st.edge_size[whole]
        return True
    hits = [_only_dense_neighbour(st, inc, e, p) for e in parts]
    if parts and all(h is not None for h in hits) and len({h[0] for h in hits}) == 1:  # type: ignore[index]
        d = hits[0][0]  # type: ignore[index]
        dense = st.dense[d]
        part_axes = [h[1] for h in hits]  # type: ignore[index]
        rest = [ax for ax in range(dense.array.ndim) if ax not in part_axes]
        moved = np.transpose(dense.array, rest + part_axes)
        dense.array = moved.reshape(moved.shape[: len(rest)] + (st.edge_size[whole],))
        dense.edges = [dense.edges[ax] for ax in rest] + [whole]
        for e in parts:
            del st.edge_size[e]
        return True
    labels = st.labels_on(whole)
    outputs = st.output_edges()
    parts_plain = all(
        e not in outputs and all(t[0] == "dense" or (t[0] == "pending" and st.pending[t[1]] is p) for t in inc[e])
        for e in parts
    )
    if len(labels) == 1 and len(inc[whole]) == 1 and parts_plain:
        st.slots[labels[0]] = list(parts)
        del st.edge_size[whole]
        return True
    return False


def _dense_structural(p: _Pending, edge_size: dict[str, int], memory_cap: int) -> np.ndarray:
    """The dense 0/1 array of a shift or reshape node that could not be applied in place."""
    if isinstance(p.op, ShiftOp):
        n = edge_size[p.edges[0]]
        check_memory(n * n * 8, memory_cap, f"the dense shift({p.op.offset}) matrix [{n}, {n}]")
        return np.eye(n, k=-p.op.offset)  # [a, b] = 1 where b == a - offset
    parts = [edge_size[e] for e in p.edges[:-1]]
    whole = edge_size[p.edges[-1]]
    check_memory(whole * whole * 8, memory_cap, f"the dense reshape tensor {parts + [whole]}")
    return np.eye(whole).reshape(tuple(parts) + (whole,))


# --------------------------------------------------------------------------- the contraction


def _einsum(st: _State, labels: Sequence[str], memory_cap: int, backend: Backend) -> np.ndarray:
    parent = {e: e for e in st.edge_size}

    def find(e: str) -> str:
        while parent[e] != e:
            parent[e] = parent[parent[e]]
            e = parent[e]
        return e

    for edges in st.copies:
        for e in edges[1:]:
            ra, rb = find(edges[0]), find(e)
            if ra != rb:
                parent[rb] = ra
    root_id = {r: i for i, r in enumerate(sorted({find(e) for e in st.edge_size}))}
    cid = {e: root_id[find(e)] for e in st.edge_size}
    csize = {cid[e]: n for e, n in st.edge_size.items()}

    operands: list[tuple[np.ndarray, list[int]]] = []
    for dense in st.dense:
        ids = [cid[e] for e in dense.edges]
        arr = dense.array
        if len(set(ids)) != len(ids):  # a trace or diagonal inside one operand: reduce it first
            uniq = list(dict.fromkeys(ids))
            arr = oe.contract(arr, ids, uniq)
            ids = uniq
        operands.append((arr, ids))

    slot_ids = [[cid[e] for e in st.slots[label]] for label in labels]
    out_ids = list(dict.fromkeys(c for ids in slot_ids for c in ids))
    used = {c for _, ids in operands for c in ids}
    for c in out_ids:
        if c not in used:  # an output index no operand carries: the all-ones vector
            operands.append((np.ones(csize[c]), [c]))
    factor = math.prod(n for c, n in csize.items() if c not in used and c not in out_ids)

    if operands:
        result = backend.contract(operands, out_ids, memory_cap)
    else:
        result = np.array(1.0)
    result = _embed(result, out_ids, slot_ids, csize, memory_cap)
    shape = tuple(math.prod(csize[c] for c in ids) for ids in slot_ids)
    return backend.scale(factor, result.reshape(shape))


def plan_contraction(
    operands: Sequence[tuple[np.ndarray, Sequence[int]]], out_ids: Sequence[int], itemsize: int, memory_cap: int
) -> tuple[Order, SlicePlan | None]:
    """The contraction order for these operands (searched once per wiring,
    :func:`~diagalg.numeric.plan.contraction_order`), costed at their sizes, and a
    slicing when its largest intermediate would exceed ``memory_cap`` bytes.

    Raises :class:`MemoryCapError` when it cannot fit: the output itself is too large,
    or the order's FLOPs already exceed what a sliced contraction may do
    (:data:`~diagalg.numeric.slicing.MAX_SLICED_FLOPS`; slicing only adds work to an
    order, never removes it, so such a contraction is refused at once instead of
    after a search for slices), or no slicing fits within that bound."""
    inputs = [tuple(ids) for _, ids in operands]
    size = {i: n for arr, ids in operands for i, n in zip(ids, arr.shape)}
    order = contraction_order(inputs, out_ids, size)
    cost = cost_of(order, inputs, out_ids, size)
    if cost.largest * itemsize <= memory_cap:
        return order, None
    out_entries = math.prod(size[i] for i in out_ids)
    plan = None
    hopeless = cost.flops > slicing.MAX_SLICED_FLOPS
    if out_entries * itemsize <= memory_cap and not hopeless:  # the output itself cannot be sliced
        spec = tuple((tuple(arr.shape), tuple(ids)) for arr, ids in operands)
        plan = slicing.plan_slices(spec, out_ids, memory_cap // itemsize, PATH_STRATEGY)
    if plan is None:
        why = "" if out_entries * itemsize > memory_cap else "; slicing it would take too long"
        what = f"the largest intermediate ({format_count(cost.largest)} entries{why})"
        check_memory(cost.largest * itemsize, memory_cap, what)
    return order, plan


def _contract(operands: list[tuple[np.ndarray, list[int]]], out_ids: list[int], memory_cap: int) -> np.ndarray:
    dtype = np.result_type(*(arr.dtype for arr, _ in operands))
    order, sliced = plan_contraction(operands, out_ids, dtype.itemsize, memory_cap)
    if sliced is not None:  # too big in one piece: a sum of slices that each fit
        return contract_sliced(operands, out_ids, sliced)
    arr, ids = run_order(order, operands, out_ids, float_pair, float_reduce)
    return np.transpose(arr, [ids.index(i) for i in out_ids]) if ids != list(out_ids) else arr


def float_reduce(op: tuple[np.ndarray, list[int]], keep: set[int]) -> tuple[np.ndarray, list[int]]:
    """Sum an operand over its index ids not in ``keep``."""
    arr, ids = op
    gone = tuple(ax for ax, i in enumerate(ids) if i not in keep)
    if not gone:
        return op
    return arr.sum(axis=gone), [i for i in ids if i in keep]


def float_pair(
    a: tuple[np.ndarray, list[int]], b: tuple[np.ndarray, list[int]], keep: set[int]
) -> tuple[np.ndarray, list[int]]:
    """The contraction of two operands keeping the ids in ``keep``, as opt_einsum does
    a pair: ``tensordot`` (BLAS) when no shared index is kept, else ``einsum`` (a kept
    shared index is a batch axis, which ``tensordot`` cannot express)."""
    (xa, ia), (xb, ib) = float_reduce(a, keep | set(b[1])), float_reduce(b, keep | set(a[1]))
    sa, sb = set(ia), set(ib)
    shared = [i for i in ia if i in sb]
    if not any(i in keep for i in shared):
        res = np.tensordot(xa, xb, axes=([ia.index(i) for i in shared], [ib.index(i) for i in shared]))
        return res, [i for i in ia if i not in sb] + [i for i in ib if i not in sa]
    out = [i for i in dict.fromkeys(ia + ib) if i in keep]
    local = {i: k for k, i in enumerate(dict.fromkeys(ia + ib))}
    if len(local) <= 52:  # numpy's einsum names at most 52 indices
        res = np.einsum(xa, [local[i] for i in ia], xb, [local[i] for i in ib], [local[i] for i in out])
    else:
        res = oe.contract(xa, ia, xb, ib, out)
    return res, out


def _embed(
    result: np.ndarray, out_ids: list[int], slot_ids: list[list[int]], csize: dict[int, int], memory_cap: int
) -> np.ndarray:
    """Give every output slot its own axes: an index that two free labels share
    (an identity, ``delta[i, j]``) becomes a diagonal of the output only."""
    flat = [c for ids in slot_ids for c in ids]
    if len(flat) == len(out_ids):
        return result
    total = math.prod(csize[c] for c in flat)
    check_memory(total * result.dtype.itemsize, memory_cap, f"the output ({format_count(total)} entries)")
    next_id = max(csize, default=0) + 1
    seen: set[int] = set()
    args: list = [result, list(out_ids)]
    final: list[int] = []
    for c in flat:
        if c in seen:
            args += [np.eye(csize[c]), [c, next_id]]
            final.append(next_id)
            next_id += 1
        else:
            seen.add(c)
            final.append(c)
    return oe.contract(*args, final)
