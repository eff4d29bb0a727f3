"""The offline default judge: a linear probe on SmolLM2-135M's residual stream.

Per trait, ``data/judges/<trait>/classifier/`` holds ``probe.safetensors`` (weight, bias and
normalisation of one layer) and ``card.json``: the layer and pooling chosen by grouped
cross-validation on the training corpus, data hashes, nested-CV metrics on held-out families
beside a bag-of-words baseline, the sealed-set report, the decision threshold and the
trace-level threshold where one was calibrated. Scores are the probe's logistic probability.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from krel_interp.errors import IncompatibleArtifactError, InputFileError
from krel_interp.judges.base import register_backend
from krel_interp.judges.features import pooled, text_features
from krel_interp.judges.traits import trait_dir
from krel_interp.models import Fingerprint, load_model
from krel_interp.models.loading import LoadedModel
from krel_interp.probes.methods import LinearProbe

BASE_MODEL = "smollm2-135m"  # the embedded default; a card records the exact weights
FORMAT = "krel_interp.judge/1"
CARD_KEYS = ("data", "cv", "sealed", "sealed_later", "trace")  # what describe() passes on


def classifier_dir(trait: str) -> Path:
    """Where the packaged classifier of a trait lives."""
    return trait_dir(trait) / "classifier"


def read_card(directory: Path) -> dict[str, Any]:
    """The judge card (refuses files of another format)."""
    path = directory / "card.json"
    if not path.is_file():
        raise InputFileError(f"no judge at {directory} (build it with `make judges`)")
    card = json.loads(path.read_text())
    if card.get("format") != FORMAT:
        raise InputFileError(f"{path} is not a krel_interp judge card")
    return dict(card)


@dataclass
class ClassifierJudge:
    """A probe judge for one trait."""

    trait: str
    lm: LoadedModel
    probe: LinearProbe
    layer: int
    pooling: str
    card: dict[str, Any]
    name: str = "classifier"
    threshold: float = 0.5
    trace_threshold: float | None = None
    batch_size: int = 32
    progress: Callable[[int], None] | None = field(default=None, repr=False)

    def score(self, texts: Sequence[str]) -> list[float]:
        """The probe's probability per text."""
        if not texts:
            return []
        feats = text_features(self.lm, texts, [self.layer], self.batch_size, self.progress)
        logits = self.probe.score_layer(0, pooled(feats, self.pooling)[0])
        return [float(v) for v in torch.sigmoid(logits)]

    def describe(self) -> dict[str, Any]:
        """Backend, base-model identity and the card's provenance and metrics."""
        return {
            "backend": "classifier",
            "trait": self.trait,
            "base_model": self.lm.fingerprint.model_id,
            "layer": self.layer,
            "pooling": self.pooling,
            "threshold": self.threshold,
            "trace_threshold": self.trace_threshold,
            "card": {k: self.card.get(k) for k in CARD_KEYS},
        }


def load_classifier(directory: Path, trait: str) -> ClassifierJudge:
    """Load a classifier judge; refuse one made on other base weights or tokenizer."""
    card = read_card(directory)
    if card.get("trait") != trait:
        raise IncompatibleArtifactError(f"{directory} judges {card.get('trait')!r}, not {trait!r}")
    made_on = Fingerprint.from_dict(card["base_model"])
    lm = load_model(made_on.source)
    made_on.check_fits(lm.fingerprint, same_weights=True, what=f"judge {trait}")
    probe = LinearProbe.from_tensors(load_file(str(directory / "probe.safetensors")), "logistic")
    return ClassifierJudge(
        trait,
        lm,
        probe,
        int(card["layer"]),
        str(card["pooling"]),
        card,
        threshold=float(card["threshold"]),
        trace_threshold=(card.get("trace") or {}).get("threshold"),
    )


@register_backend("classifier")
def _classifier(argument: str, trait: str, options: dict[str, Any]) -> ClassifierJudge:
    directory = Path(argument) if argument else classifier_dir(trait)
    return load_classifier(directory, trait)
