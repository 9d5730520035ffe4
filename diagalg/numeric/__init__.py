"""The numeric oracle: random instances of declared tensors, evaluation of
expressions without any rewrite rule, and the equality criterion of the spec.

* :mod:`.sizes` / :mod:`.sample` draw dimension sizes, tensors and functions;
* :mod:`.evaluate` (with :mod:`.contract`, :mod:`.bubbles`, :mod:`.deriv`)
  evaluates an expression on an :class:`Instance`;
* :mod:`.check` compares two expressions on several draws.
"""

from .check import NumericResult, compare, draw_instance, evaluate_once, sample_instance
from .errors import MemoryCapError, NumericError, SamplingError
from .evaluate import Evaluation, Instance, evaluate
from .sample import (
    FuncParams,
    SizeDraw,
    sample_func,
    sample_invertible,
    sample_isometry,
    sample_posdef,
    sample_projector,
    sample_sizes,
    sample_tensor,
    sample_unitary,
)

__all__ = [
    "Evaluation",
    "FuncParams",
    "Instance",
    "MemoryCapError",
    "NumericError",
    "NumericResult",
    "SamplingError",
    "SizeDraw",
    "compare",
    "draw_instance",
    "evaluate",
    "evaluate_once",
    "sample_func",
    "sample_instance",
    "sample_invertible",
    "sample_isometry",
    "sample_posdef",
    "sample_projector",
    "sample_sizes",
    "sample_tensor",
    "sample_unitary",
]
