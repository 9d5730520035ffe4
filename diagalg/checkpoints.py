"""Checkpoints as people save them: safetensors files and TransformerLens state dicts.

:func:`read_safetensors` parses the safetensors format with numpy alone (an 8-byte
little-endian header length, a JSON header giving each tensor's dtype, shape and byte
range, then the raw little-endian data), so nothing is ever unpickled and no new
dependency is needed. :func:`from_transformerlens` maps a state dict in
TransformerLens's naming (``blocks.{l}.attn.W_Q`` ...) to the tensor names a
standard model ``.diag`` declares (``WQ{l}`` ..., layers counted from 0 as
TransformerLens counts them), checking every array's shape against the sizes the
model fixes, and can fold layer norm and centre the unembedding as
TransformerLens's ``fold_layer_norm`` and ``center_unembed`` do. Every failure is a
:class:`~diagalg.weights.WeightsError` naming the array and the expected shape.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from .dims import DimEnv
from .model import TensorDecl
from .weights import Binding, WeightsError, bind, load_arrays


class UnknownLayout(WeightsError):
    """``weights "..." as NAME`` with a NAME that is not a known layout."""


__all__ = [
    "UnknownLayout",
    "bind_checkpoint",
    "LAYOUTS",
    "read_safetensors",
    "load_state_dict",
    "is_transformerlens",
    "from_transformerlens",
    "load_checkpoint",
    "diag_name",
    "unbound_model_tensors",
]

#: The checkpoint namings ``weights "..." as NAME`` knows.
LAYOUTS = ("transformerlens",)

_DTYPES = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U8": "u1",
    "BOOL": "?",
}

# TransformerLens name -> (diag name, the legs' sizes by name). {l} is the layer.
_GLOBAL: dict[str, tuple[str, tuple[str, ...]]] = {
    "embed.W_E": ("WE", ("d_vocab", "d_model")),
    "pos_embed.W_pos": ("WP", ("n_ctx", "d_model")),
    "unembed.W_U": ("WU", ("d_model", "d_vocab")),
    "unembed.b_U": ("bU", ("d_vocab",)),
}
_LN_FINAL: dict[str, tuple[str, tuple[str, ...]]] = {
    "ln_final.w": ("lnfw", ("d_model",)),
    "ln_final.b": ("lnfb", ("d_model",)),
}
_ATTN: dict[str, tuple[str, tuple[str, ...]]] = {
    "attn.W_Q": ("WQ", ("head", "d_model", "d_head")),
    "attn.W_K": ("WK", ("head", "d_model", "d_head")),
    "attn.W_V": ("WV", ("head", "d_model", "d_head")),
    "attn.W_O": ("WO", ("head", "d_head", "d_model")),
    "attn.b_Q": ("bQ", ("head", "d_head")),
    "attn.b_K": ("bK", ("head", "d_head")),
    "attn.b_V": ("bV", ("head", "d_head")),
    "attn.b_O": ("bO", ("d_model",)),
}
_LN1: dict[str, tuple[str, tuple[str, ...]]] = {"ln1.w": ("ln1w", ("d_model",)), "ln1.b": ("ln1b", ("d_model",))}
_LN2: dict[str, tuple[str, tuple[str, ...]]] = {"ln2.w": ("ln2w", ("d_model",)), "ln2.b": ("ln2b", ("d_model",))}
_MLP: dict[str, tuple[str, tuple[str, ...]]] = {
    "mlp.W_in": ("Win", ("d_model", "d_mlp")),
    "mlp.b_in": ("bin", ("d_mlp",)),
    "mlp.W_out": ("Wout", ("d_mlp", "d_model")),
    "mlp.b_out": ("bout", ("d_model",)),
}
# buffers TransformerLens keeps in its state dicts: the causal mask and its fill value
_BUFFERS = re.compile(r"^blocks\.\d+\.attn\.(mask|IGNORE)$")
_BLOCK = re.compile(r"^blocks\.(\d+)\.(.+)$")


def read_safetensors(path: str | Path, shown: str | None = None) -> dict[str, np.ndarray]:
    """The tensors of a ``.safetensors`` file, by name, as numpy arrays (BF16 widened to
    float32, the only lossless numpy form). Promise: the file is only parsed, never
    executed; a malformed header, an unknown dtype or a byte range that does not fit
    is a :class:`WeightsError` naming the file and the tensor."""
    name = shown if shown is not None else str(path)
    try:
        data = Path(path).read_bytes()
    except OSError:
        raise WeightsError(f"no such weights file: {name}") from None
    if len(data) < 8:
        raise WeightsError(f"{name}: not a safetensors file (shorter than its 8-byte header length)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise WeightsError(f"{name}: not a safetensors file (header length {n} exceeds the file)")
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise WeightsError(f"{name}: not a safetensors file (its header is not JSON: {e})") from None
    if not isinstance(header, dict):
        raise WeightsError(f"{name}: not a safetensors file (its header is not a JSON object)")
    body = memoryview(data)[8 + n :]
    out: dict[str, np.ndarray] = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        try:
            dtype, shape, (start, end) = info["dtype"], [int(s) for s in info["shape"]], info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise WeightsError(f"{name}: tensor '{key}' has no dtype, shape and data_offsets") from None
        if not 0 <= start <= end <= len(body):
            raise WeightsError(
                f"{name}: tensor '{key}' has bytes {start}..{end}, outside the file's {len(body)} data bytes"
            )
        count = int(np.prod(shape)) if shape else 1
        raw = body[start:end]
        if dtype == "BF16":
            if len(raw) != 2 * count:
                raise WeightsError(f"{name}: tensor '{key}' of shape {shape} needs {2 * count} bytes, has {len(raw)}")
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32)
        elif dtype in _DTYPES:
            dt = np.dtype(_DTYPES[dtype])
            if len(raw) != dt.itemsize * count:
                raise WeightsError(
                    f"{name}: tensor '{key}' of shape {shape} and dtype {dtype} needs "
                    f"{dt.itemsize * count} bytes, has {len(raw)}"
                )
            arr = np.frombuffer(raw, dtype=dt)
        else:
            raise WeightsError(
                f"{name}: tensor '{key}' has dtype {dtype}, which diagalg does not read "
                f"(it reads {', '.join(['BF16', *_DTYPES])})"
            )
        out[key] = arr.reshape(shape).copy()
    return out


def load_state_dict(path: str | Path, shown: str | None = None) -> dict[str, np.ndarray]:
    """The arrays of a ``.safetensors``, ``.npz`` or ``.npy`` file, by name (safetensors
    is recognised by its suffix). Never unpickles."""
    if Path(path).suffix.lower() == ".safetensors":
        return read_safetensors(path, shown)
    return load_arrays(path, shown)


def is_transformerlens(arrays: Mapping[str, object]) -> bool:
    """True when the names are TransformerLens's (``embed.W_E``, ``blocks.0.attn.W_Q`` ...)."""
    return any(k in _GLOBAL or k.startswith("blocks.") for k in arrays)


def diag_name(tl_key: str) -> str | None:
    """The tensor a standard model ``.diag`` declares for TransformerLens's ``tl_key``
    (``blocks.1.attn.W_Q`` -> ``WQ1``), None for a name the layout does not have."""
    if tl_key in _GLOBAL:
        return _GLOBAL[tl_key][0]
    if tl_key in _LN_FINAL:
        return _LN_FINAL[tl_key][0]
    m = _BLOCK.match(tl_key)
    if m:
        for table in (_ATTN, _LN1, _LN2, _MLP):
            if m.group(2) in table:
                return f"{table[m.group(2)][0]}{int(m.group(1))}"
    return None


def _expected(state: Mapping[str, np.ndarray], source: str) -> tuple[dict[str, tuple[str, ...]], int]:
    """Every array the model must have, with its legs' size names, and the layer count.
    Layer norm and MLPs are each all or nothing; a model has both or neither of them
    in every layer, as TransformerLens's configurations do."""
    layers = sorted({int(m.group(1)) for k in state if (m := _BLOCK.match(k))})
    if layers != list(range(len(layers))):
        raise WeightsError(f"{source}: layers {layers} are not numbered 0, 1, ... (blocks.{{l}})")
    for key in ("embed.W_E", "unembed.W_U"):
        if key not in state:
            raise WeightsError(f"{source}: missing {key} {list(_GLOBAL[key][1])} (not a TransformerLens state dict?)")
    if not layers:
        raise WeightsError(f"{source}: no blocks.{{l}}.attn.W_Q: the model has no layers")
    want: dict[str, tuple[str, ...]] = {k: legs for k, (_, legs) in _GLOBAL.items()}
    has_ln = any(k.endswith((".ln1.w", ".ln1.b")) or k.startswith("ln_final.") for k in state)
    has_mlp = any(".mlp." in k for k in state)
    if has_ln:
        want.update({k: legs for k, (_, legs) in _LN_FINAL.items()})
    for layer in layers:
        tables: list[Mapping[str, tuple[str, tuple[str, ...]]]] = [_ATTN]
        tables += [_LN1] if has_ln else []
        tables += [_MLP] if has_mlp else []
        tables += [_LN2] if has_ln and has_mlp else []
        for table in tables:
            want.update({f"blocks.{layer}.{k}": legs for k, (_, legs) in table.items()})
    return want, len(layers)


def from_transformerlens(
    state: Mapping[str, np.ndarray], source: str, *, fold_ln: bool = False, center_unembed: bool = False
) -> dict[str, np.ndarray]:
    """The arrays of a TransformerLens state dict under a standard model's tensor names.

    Promise: every array of the model is present with the shape its role fixes
    (``blocks.1.attn.W_Q: expected [4, 16, 4] (head, d_model, d_head), got [4, 4, 16]``);
    an array the layout does not know is an error (the causal-mask buffers
    ``attn.mask``/``attn.IGNORE`` are skipped). With ``fold_ln``, each layer norm's
    ``w`` scales and its ``b`` (through the weights) shifts the weights that read it,
    which are then centred along d_model, as TransformerLens's ``fold_layer_norm``
    does; the layer norms are returned as ``w = 1, b = 0``, so the model keeps only
    their centring and normalisation and computes the same logits. With
    ``center_unembed``, ``W_U`` and ``b_U`` are centred over the vocabulary, which
    changes the logits by a constant per position and no log-probability.
    """
    want, n_layers = _expected(state, source)
    for key in sorted(state):
        if key not in want and not _BUFFERS.match(key):
            raise WeightsError(
                f"{source}: unexpected array {key} {list(np.shape(state[key]))} (the "
                "TransformerLens layout has no such name)"
            )
    sizes: dict[str, int] = {}
    first = {
        "d_vocab": "embed.W_E",
        "d_model": "embed.W_E",
        "head": "blocks.0.attn.W_Q",
        "d_head": "blocks.0.attn.W_Q",
        "n_ctx": "pos_embed.W_pos",
        "d_mlp": "blocks.0.mlp.W_in",
    }
    for key in ("embed.W_E", "blocks.0.attn.W_Q", "pos_embed.W_pos", "blocks.0.mlp.W_in"):
        if key in want and key in state and len(np.shape(state[key])) == len(want[key]):
            for leg, size in zip(want[key], np.shape(state[key])):
                sizes.setdefault(leg, int(size))
    missing = [k for k in want if k not in state]
    if missing:
        k = missing[0]
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        shape = ", ".join(str(sizes.get(leg, leg)) for leg in want[k])
        raise WeightsError(f"{source}: missing {k}, expected [{shape}] ({', '.join(want[k])}){more}")
    arrays: dict[str, np.ndarray] = {}
    for key, legs in want.items():
        arr = np.asarray(state[key])
        exp = [sizes.get(leg) for leg in legs]
        if arr.dtype.kind not in "biuf":
            raise WeightsError(f"{source}: {key} has dtype {arr.dtype}, not real numbers")
        if list(arr.shape) != exp:
            shown = ", ".join(str(e) for e in exp)
            raise WeightsError(
                f"{source}: {key}: expected [{shown}] ({', '.join(legs)}), got "
                f"{list(arr.shape)} (sizes from {', '.join(sorted({first[l] for l in legs}))})"
            )
        arrays[key] = arr.astype(np.float64)
    if fold_ln and "ln_final.w" in arrays:
        _fold(arrays, n_layers)
    if center_unembed:
        arrays["unembed.W_U"] = arrays["unembed.W_U"] - arrays["unembed.W_U"].mean(-1, keepdims=True)
        arrays["unembed.b_U"] = arrays["unembed.b_U"] - arrays["unembed.b_U"].mean()
    return {str(diag_name(k)): v for k, v in arrays.items()}


def _fold(sd: dict[str, np.ndarray], n_layers: int) -> None:
    """TransformerLens's ``fold_layer_norm(fold_biases=True, center_weights=True)``, in place,
    leaving each layer norm as ``w = 1, b = 0`` (its centring and normalisation remain)."""

    def fold(w_key: str, b_key: str, ln: str, axis_d: int) -> None:
        w, b = sd[w_key], sd[b_key]
        shape = [1] * w.ndim
        shape[axis_d] = -1
        sd[b_key] = b + (w * sd[f"{ln}.b"].reshape(shape)).sum(axis_d)
        folded = w * sd[f"{ln}.w"].reshape(shape)
        sd[w_key] = folded - folded.mean(axis_d, keepdims=True)

    for layer in range(n_layers):
        p = f"blocks.{layer}"
        for x in "QKV":
            fold(f"{p}.attn.W_{x}", f"{p}.attn.b_{x}", f"{p}.ln1", 1)
        if f"{p}.mlp.W_in" in sd:
            fold(f"{p}.mlp.W_in", f"{p}.mlp.b_in", f"{p}.ln2", 0)
    fold("unembed.W_U", "unembed.b_U", "ln_final", 0)
    for key in [k for k in sd if k.endswith((".w", ".b")) and ("ln" in k.split(".")[-2])]:
        sd[key] = np.ones_like(sd[key]) if key.endswith(".w") else np.zeros_like(sd[key])


_DIAG_NAME = re.compile(r"^(WE|WP|WU|bU|lnfw|lnfb|(WQ|WK|WV|WO|bQ|bK|bV|bO|ln1w|ln1b|ln2w|ln2b|Win|bin|Wout|bout)\d+)$")


def unbound_model_tensors(declared: Iterable[str], arrays: Mapping[str, object]) -> list[str]:
    """Declared tensors named as the layout names its arrays (``WQ3``, ``lnfw`` ...) that the
    checkpoint does not supply: binding would leave them random, so callers refuse."""
    return sorted(n for n in declared if _DIAG_NAME.match(n) and n not in arrays)


def load_checkpoint(
    path: str | Path, shown: str, layout: str, *, fold_ln: bool = False, center_unembed: bool = False
) -> dict[str, np.ndarray]:
    """Read the checkpoint at ``path`` and return its arrays under a standard model's
    tensor names (``layout`` is one of :data:`LAYOUTS`)."""
    if layout not in LAYOUTS:
        raise UnknownLayout(f"unknown checkpoint layout '{layout}' (known: {', '.join(LAYOUTS)})")
    return from_transformerlens(load_state_dict(path, shown), shown, fold_ln=fold_ln, center_unembed=center_unembed)


def bind_checkpoint(
    path: str | Path,
    shown: str,
    layout: str,
    tensors: Mapping[str, TensorDecl],
    env: DimEnv,
    into: Binding | None = None,
    *,
    fold_ln: bool = False,
    center_unembed: bool = False,
) -> Binding:
    """Bind a checkpoint to a standard model's tensors, as ``weights "m.safetensors" as
    transformerlens`` does: every array must name a declared tensor and every declared
    tensor of the model (``WQ0`` ...) must get an array, so nothing is left random."""
    arrays = load_checkpoint(path, shown, layout, fold_ln=fold_ln, center_unembed=center_unembed)
    left = unbound_model_tensors(tensors, arrays)
    if left:
        raise WeightsError(
            f"{shown}: the checkpoint has no array for the declared tensor"
            f"{'s' if len(left) > 1 else ''} {', '.join(left)}"
        )
    return bind(arrays, tensors, env, shown, into)
