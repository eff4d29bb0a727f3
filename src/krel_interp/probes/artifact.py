"""Probe artifacts: ``NAME.safetensors`` (weights, normalisation) + ``NAME.json`` (provenance).

Loading checks that the probe fits the model it is applied to (fingerprint and width).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file

from krel_interp.errors import InputFileError
from krel_interp.io import write_json_atomic
from krel_interp.models.fingerprint import Fingerprint
from krel_interp.probes.methods import LinearProbe

FORMAT = "krel_interp.probe/1"
BASELINE = "baseline."


@dataclass(frozen=True)
class ProbeArtifact:
    """A trained probe with everything needed to apply it honestly."""

    probe: LinearProbe
    meta: dict[str, Any]
    baselines: dict[str, LinearProbe] = field(default_factory=dict)

    @property
    def fingerprint(self) -> Fingerprint:
        """The model the probe was trained on."""
        return Fingerprint.from_dict(self.meta["fingerprint"])

    @property
    def layers(self) -> list[int]:
        """Layer of each probe row."""
        return list(self.meta["layers"])

    @property
    def site_names(self) -> list[str]:
        """TransformerLens site names, one per layer."""
        return [f"blocks.{layer}.{self.meta['config']['site']}" for layer in self.layers]

    @property
    def best_layer(self) -> int:
        """Layer with the highest held-out AUROC."""
        return int(self.meta["metrics"]["best_layer"])

    def threshold(self, layer: int) -> float:
        """Decision threshold calibrated at the configured false-positive rate."""
        return float(self.meta["metrics"]["thresholds"][str(layer)])

    def check_model(self, fingerprint: Fingerprint, allow_other_weights: bool = False) -> list[str]:
        """Refuse a model with another width, depth or tokenizer; return notes on differences.

        A probe asks for the weights it was trained on (``requires_same_weights``, default
        true): other weights are refused unless ``allow_other_weights`` (transfer on purpose),
        and then returned as a note to record.
        """
        fingerprint.check_shape_compatible(int(self.meta["d_model"]), max(self.layers) + 1)
        same = bool(self.meta.get("requires_same_weights", True)) and not allow_other_weights
        return self.fingerprint.check_fits(
            fingerprint, same_weights=same, what=f"probe {self.meta['name']}"
        )


def save_probe(
    probe: LinearProbe,
    meta: dict[str, Any],
    path: str | Path,
    baselines: dict[str, LinearProbe] | None = None,
) -> Path:
    """Write ``path.safetensors`` and ``path.json`` atomically; returns the JSON path.

    ``baselines`` are stored beside the probe as ``baseline.NAME.{weight,bias,mean,scale}``.
    """
    base = Path(path).with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    weights = base.with_suffix(".safetensors")
    tmp = weights.with_name(f".{weights.name}.tmp")
    tensors = {k: v.contiguous() for k, v in probe.to_tensors().items()}
    for name, model in (baselines or {}).items():
        tensors |= {f"{BASELINE}{name}.{k}": v.contiguous() for k, v in model.to_tensors().items()}
    save_file(tensors, str(tmp), metadata={"format": FORMAT})
    os.replace(tmp, weights)
    write_json_atomic(base.with_suffix(".json"), {"format": FORMAT, **meta})
    return base.with_suffix(".json")


def load_probe(path: str | Path) -> ProbeArtifact:
    """Read a probe artifact (safetensors only: nothing is unpickled)."""
    base = Path(path).with_suffix("")
    meta_path, weights = base.with_suffix(".json"), base.with_suffix(".safetensors")
    if not meta_path.exists() or not weights.exists():
        raise InputFileError(f"probe not found: {base}(.json|.safetensors)")
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != FORMAT:
        raise InputFileError(f"{meta_path} is not a krel_interp probe ({meta.get('format')})")
    tensors = load_file(str(weights))
    own = {k: v for k, v in tensors.items() if not k.startswith(BASELINE)}
    probe = LinearProbe.from_tensors(own, meta["config"]["method"])
    parts: dict[str, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith(BASELINE):
            name, _, part = key[len(BASELINE) :].rpartition(".")
            parts.setdefault(name, {})[part] = value
    recorded = meta.get("baselines", {})
    baselines = {
        name: LinearProbe.from_tensors(t, str(recorded.get(name, {}).get("method", "logistic")))
        for name, t in sorted(parts.items())
    }
    return ProbeArtifact(probe, meta, baselines)
