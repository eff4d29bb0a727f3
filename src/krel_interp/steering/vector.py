"""Steering-vector artifacts: ``NAME.safetensors`` (unit directions per layer) + ``NAME.json``.

The JSON records provenance (method, model fingerprint, site, layers, data hash, build config)
and, per layer, the mean residual norm the vector is scaled by: an added vector is
``coef x mean_norm[layer] x unit direction``, so coefficients mean the same at every depth and
in every model. A vector fits a model of the same width and tokenizer; applying it to other
weights (an organism's vector on its base) is allowed and recorded as a note.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jaxtyping import Float
from safetensors.torch import load_file, save_file
from torch import Tensor

from krel_interp.errors import ConfigError, IncompatibleArtifactError, InputFileError
from krel_interp.io import write_json_atomic
from krel_interp.models.fingerprint import Fingerprint
from krel_interp.models.loading import LoadedModel

FORMAT = "krel_interp.steering/1"
SITE = "hook_resid_post"


@dataclass(frozen=True)
class SteeringVector:
    """Unit directions at some layers, the residual norms that scale them, and provenance."""

    directions: Float[Tensor, "layers d_model"]
    layers: tuple[int, ...]
    mean_norms: tuple[float, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.directions.ndim != 2 or self.directions.shape[0] != len(self.layers):
            raise ConfigError("a steering vector needs one direction per layer")
        if len(self.mean_norms) != len(self.layers):
            raise ConfigError("a steering vector needs one mean norm per layer")

    @property
    def d_model(self) -> int:
        """Residual width."""
        return int(self.directions.shape[1])

    @property
    def fingerprint(self) -> Fingerprint:
        """The model the vector was built on."""
        return Fingerprint.from_dict(self.meta["fingerprint"])

    def direction(self, layer: int) -> Float[Tensor, " d_model"]:
        """The unit direction at ``layer``."""
        return self.directions[self.layers.index(layer)]

    def norm(self, layer: int) -> float:
        """Mean residual norm at ``layer`` (the unit of ``coef``)."""
        return self.mean_norms[self.layers.index(layer)]

    def check_layers(self, layers: tuple[int, ...]) -> None:
        """Refuse layers the vector has no direction for."""
        missing = [x for x in layers if x not in self.layers]
        if missing:
            raise ConfigError(
                f"the vector has no direction at layer(s) {missing}; it has {list(self.layers)}"
            )

    def check_model(self, lm: LoadedModel) -> list[str]:
        """Refuse a model of another width, depth or tokenizer; notes on other weights."""
        if self.d_model != lm.d_model:
            raise IncompatibleArtifactError(
                f"vector has width {self.d_model} but {lm.spec.source} has d_model {lm.d_model}"
            )
        if max(self.layers) >= lm.n_layers:
            raise IncompatibleArtifactError(
                f"vector needs layer {max(self.layers)} but {lm.spec.source} has {lm.n_layers}"
            )
        return self.fingerprint.check_fits(lm.fingerprint, same_weights=False, what="vector")


def unit_rows(x: Float[Tensor, "layers d_model"]) -> Float[Tensor, "layers d_model"]:
    """Rows scaled to unit norm (a zero row is refused: it has no direction)."""
    norms = x.norm(dim=-1, keepdim=True)
    if bool((norms == 0).any()):
        raise ConfigError("a direction is zero: the two sides of the contrast are identical")
    return x / norms


def _paths(path: str | Path) -> tuple[Path, Path]:
    p = Path(path)
    stem = p.with_suffix("") if p.suffix in (".json", ".safetensors") else p
    return Path(f"{stem}.safetensors"), Path(f"{stem}.json")  # "v.l21" keeps its dot


def save_vector(vector: SteeringVector, path: str | Path) -> Path:
    """Write ``PATH.safetensors`` + ``PATH.json`` (JSON last: its presence marks completion)."""
    weights, meta = _paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    meta.unlink(missing_ok=True)  # no stale JSON beside new weights if interrupted
    tmp = weights.with_name(f".{weights.name}.tmp")
    save_file({"directions": vector.directions.float().contiguous()}, str(tmp))
    tmp.replace(weights)
    write_json_atomic(
        meta,
        {
            "format": FORMAT,
            **vector.meta,
            "site": SITE,
            "layers": list(vector.layers),
            "mean_norms": list(vector.mean_norms),
            "d_model": vector.d_model,
        },
    )
    return meta


def load_vector(path: str | Path) -> SteeringVector:
    """Read a vector (``PATH``, ``PATH.json`` or ``PATH.safetensors``); never unpickles."""
    weights, meta_path = _paths(path)
    if not meta_path.exists() or not weights.exists():
        raise InputFileError(f"steering vector not found: {meta_path} (+ .safetensors)")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{meta_path} is not valid JSON: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise InputFileError(f"{meta_path} is not a krel_interp steering vector")
    missing = [k for k in ("layers", "mean_norms", "d_model", "fingerprint") if k not in meta]
    if missing:
        raise InputFileError(f"{meta_path} lacks {', '.join(missing)}")
    try:
        directions = load_file(str(weights))["directions"]
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise InputFileError(f"{weights} is not a readable vector: {exc}") from exc
    if directions.ndim != 2 or directions.shape[1] != meta["d_model"]:
        raise InputFileError(f"{weights} does not match {meta_path} (width)")
    meta["vector_id"] = vector_id(weights, meta)
    layers = tuple(int(x) for x in meta.pop("layers"))
    norms = tuple(float(x) for x in meta.pop("mean_norms"))
    try:
        return SteeringVector(directions, layers, norms, meta)
    except ConfigError as exc:
        raise InputFileError(f"{meta_path}: {exc}") from exc


def vector_id(weights: Path, meta: dict[str, Any]) -> str:
    """Content hash of a saved vector: its weights and its JSON without ``recommended``."""
    import hashlib

    digest = hashlib.sha256(weights.read_bytes())
    rest = {k: v for k, v in meta.items() if k not in ("recommended", "vector_id")}
    digest.update(json.dumps(rest, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def record_recommendation(path: str | Path, name: str, setting: dict[str, Any]) -> Path:
    """Store a recommended application (e.g. ``suppress``: coef, scope, layers, evidence) in
    the vector's JSON under ``recommended.NAME`` (atomic; the weights are untouched)."""
    _, meta_path = _paths(path)
    if not meta_path.exists():
        raise InputFileError(f"steering vector not found: {meta_path}")
    meta = json.loads(meta_path.read_text())
    meta.setdefault("recommended", {})[name] = setting
    write_json_atomic(meta_path, meta)
    return meta_path
