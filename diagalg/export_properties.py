"""What an exported simplification relies on, and the check of it the exported code runs.

``diagalg export --simplify`` may use a tensor's declared properties (an
isometry's V†V = I, an inverse, a projector's P P = P): :func:`relied_properties`
reads them off the derivation, and :data:`CHECK_HELPER` is the function the
generated module includes to verify them on the arrays it is given, so nobody gets
a wrong answer silently from arrays without those properties.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from .model import Diagram, TensorOp

if TYPE_CHECKING:
    from .engine import Step

#: rules whose rewrites hold only for tensors with a declared structure
PROPERTY_RULES = ("isometry", "inverse", "symmetry", "gauge")

PROPERTY_TEXT = {
    "isometry": "an isometry (V^H V = I on its input legs)",
    "unitary": "unitary (U^H U = U U^H = I)",
    "projector": "a projector (P P = P, P^H = P)",
    "posdef": "positive definite (Hermitian, eigenvalues > 0)",
    "invertible": "invertible (a square matrix of full rank)",
}

CHECK_HELPER = '''def _check_property(x, name, prop, perm, n_outputs):
    """Raise ValueError unless x, read as the matrix from its input legs to its output
    legs (axes permuted by perm: the output legs, then the input legs; the first
    n_outputs are the rows), has the declared property prop, within 1e-8."""
    a = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
    a = np.transpose(a, perm)
    rows = int(np.prod(a.shape[:n_outputs]))
    m = a.reshape(rows, -1)
    cols = m.shape[1]
    tol = 1e-8 * max(1.0, float(np.abs(m).max()) if m.size else 1.0)

    def close(p, q):
        return p.shape == q.shape and (p.size == 0 or float(np.abs(p - q).max()) <= tol)

    h = m.conj().T
    if prop == "isometry":
        ok = close(h @ m, np.eye(cols))
    elif prop == "unitary":
        ok = close(h @ m, np.eye(cols)) and close(m @ h, np.eye(rows))
    elif prop == "projector":
        ok = close(m @ m, m) and close(h, m)
    elif prop == "posdef":
        ok = close(h, m) and bool(np.all(np.linalg.eigvalsh((m + h) / 2) > 0))
    else:  # invertible
        ok = rows == cols and int(np.linalg.matrix_rank(m)) == cols
    if not ok:
        raise ValueError(f"{name} is not {_PROPERTY_TEXT[prop]}: the simplified form relies on it "
                         f"(pass check_properties=False to skip this check)")
'''


def relied_properties(steps: Iterable[Step]) -> list[tuple[str, str]]:
    """The declared properties a derivation used: ``(tensor name, structure)`` for each
    tensor with a declared structure (isometry, unitary, invertible, projector, posdef)
    whose occurrences a step of a property rule (isometry, inverse, symmetry, gauge)
    removed or changed, in order of first use, each once."""
    from collections import Counter

    out: list[tuple[str, str]] = []

    def ops(diagram: Diagram) -> Counter[tuple[str, bool, int]]:
        return Counter(
            (n.op.decl.name, n.op.conj, n.op.inv)
            for n in diagram.nodes
            if isinstance(n.op, TensorOp) and n.op.decl.structure
        )

    for step in steps:
        if step.rule not in PROPERTY_RULES:
            continue
        before = ops(step.before.diagram)
        after = sum((ops(t.diagram) for t in step.after), Counter())
        decls = {n.op.decl.name: n.op.decl for n in step.before.diagram.nodes if isinstance(n.op, TensorOp)}
        changed = {key[0] for key in before if before[key] != after.get(key, 0)}
        for name, decl in decls.items():
            if name in changed and decl.structure and (name, decl.structure) not in out:  # changed: structured
                out.append((name, decl.structure))
    return out
