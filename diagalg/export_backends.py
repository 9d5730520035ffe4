"""The code an exported module is built from, per back end: how numpy and torch spell
an identity, ones, zeros, a scalar, a one-hot vector and a conjugate, the helper
functions a module may need (each bubble's, from its registry module, and the
inverse), and the printer of dimension expressions. :mod:`diagalg.export` writes
modules from these; nothing here knows about diagrams."""

from __future__ import annotations

from dataclasses import dataclass

import sympy
from sympy.printing.pycode import PythonCodePrinter

from .bubbles import BUBBLES


class Printer(PythonCodePrinter):
    def _print_Min(self, expr: sympy.Expr) -> str:  # noqa: N802 - sympy's printer protocol
        return "min(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Max(self, expr: sympy.Expr) -> str:  # noqa: N802
        return "max(" + ", ".join(self._print(a) for a in expr.args) + ")"


# --------------------------------------------------------------------------- backends


_INVERSE_NUMPY = (
    "def _inverse(x, perm, n_out, n_in, shape):\n"
    '    """inv(X): X as a matrix from its input legs to its output legs, inverted;\n'
    '    axes: the input legs, then the output legs."""\n'
    "    return np.linalg.inv(np.transpose(x, perm).reshape(n_out, n_in)).reshape(shape)\n"
)
_INVERSE_TORCH = (
    "def _inverse(x, perm, n_out, n_in, shape):\n"
    '    """inv(X): X as a matrix from its input legs to its output legs, inverted;\n'
    '    axes: the input legs, then the output legs."""\n'
    "    return torch.linalg.inv(x.permute(*perm).reshape(n_out, n_in)).reshape(shape)\n"
)


def _helpers(target: str, inverse: str) -> dict[str, str]:
    """The helper functions an exported module may include, by key: each bubble's
    (from its registry module, :mod:`diagalg.bubbles`) and ``inverse``."""
    out = {
        kind: b.export[target].helper for kind, b in BUBBLES.items() if target in b.export and b.export[target].helper
    }
    out["inverse"] = inverse
    return out


@dataclass(frozen=True)
class _Backend:
    lib: str  # "np" or "torch"
    helpers: dict[str, str]

    def eye(self, n: str, k: int = 0) -> str:
        if self.lib == "np":
            return f"np.eye({n}, k={k})" if k else f"np.eye({n})"
        if not k:
            return f"torch.eye({n}, dtype=_dtype)"
        return f"(torch.arange({n})[None, :] == torch.arange({n})[:, None] + ({k})).to(_dtype)"

    def ones(self, n: str) -> str:
        return f"np.ones({n})" if self.lib == "np" else f"torch.ones({n}, dtype=_dtype)"

    def zeros(self, shape: str) -> str:
        return f"np.zeros({shape})" if self.lib == "np" else f"torch.zeros({shape}, dtype=_dtype)"

    def scalar(self, value: str) -> str:
        return f"np.asarray({value})" if self.lib == "np" else f"torch.tensor({value}, dtype=_dtype)"

    def onehot(self, n: str, v: int) -> str:
        return f"{self.eye(n)}[{v}]"

    def conj(self, x: str) -> str:
        return f"{self.lib}.conj({x})"


BACKENDS = {
    "numpy": _Backend("np", _helpers("numpy", _INVERSE_NUMPY)),
    "torch": _Backend("torch", _helpers("torch", _INVERSE_TORCH)),
}
