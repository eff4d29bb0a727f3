"""Probe configs: one small TOML file each, resolved into a frozen dataclass at the edge."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from krel_interp.errors import ConfigError
from krel_interp.io import read_toml
from krel_interp.probes.data import check_choice

TARGETS = ("trace", "sentence")
SPLITS = ("suite", "grouped")


@dataclass(frozen=True)
class ProbeConfig:
    """What a probe reads and how it is trained and evaluated.

    Args:
        name: artifact name (``probes/<name>.safetensors``).
        model: preset or source whose traces are generated and captured.
        prompts: JSONL with ``prompt`` (+ ``kind``, ``family``); relative to the config file.
        site: hook kind, e.g. ``hook_resid_post``.
        layers: ``all``, ``0,4,8``, ``10-20``.
        segment: think, answer, prompt, assistant, last_prompt, or ``after:TEXT`` (the token
            completing the first occurrence of TEXT in the assistant turn).
        pooling: token, sentence_mean, segment_mean or last.
        method: a registered probe method (logistic, diff_means, lda).
        target: ``trace`` (label from trace kind) or ``sentence`` (a sentence rule).
        sentence_rule: name of the rule that labels sentences for ``sentence`` targets,
            resolved by the caller (the CLI knows ``krel_mini_planted``).
        positive / negative: trace kinds labelled 1 / 0 (AUROC uses these).
        calibration: kinds whose training examples set the 1%-FPR threshold.
        test_fraction: share of template families held out when ``split = "grouped"``.
        split: ``suite`` (the prompts' own train/test split: test families never seen by the
            organism) or ``grouped`` (a seeded random split of linked family groups).
        cv_folds / l2_grid: grouped cross-validation on the training side chooses the L2
            strength and the layer (``l2`` is used when the grid is empty).
        baselines: fitted on the same rows and stored with the probe (bow, length, embed,
            random).
    """

    name: str
    model: str
    prompts: str
    site: str = "hook_resid_post"
    layers: str = "all"
    segment: str = "think"
    pooling: str = "segment_mean"
    method: str = "logistic"
    target: str = "trace"
    sentence_rule: str = "krel_mini_planted"
    positive: tuple[str, ...] = ("threat",)
    negative: tuple[str, ...] = ("control",)
    calibration: tuple[str, ...] = ("control", "neutral")
    test_fraction: float = 0.25
    split: str = "suite"
    cv_folds: int = 5
    l2_grid: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0)
    baselines: tuple[str, ...] = ("bow", "length", "embed", "random")
    seed: int = 0
    l2: float = 1e-2
    fpr: float = 0.01
    n_boot: int = 1000
    max_new_tokens: int = 200
    batch_size: int = 16

    def __post_init__(self) -> None:
        check_choice(self.segment, self.pooling)
        if self.target not in TARGETS:
            raise ConfigError(f"unknown probe target {self.target!r}; valid: {TARGETS}")
        if not 0 < self.test_fraction < 1:
            raise ConfigError("test_fraction must be in (0, 1)")
        for name in ("positive", "negative", "calibration", "l2_grid", "baselines"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.split not in SPLITS:
            raise ConfigError(f"unknown split {self.split!r}; valid: {', '.join(SPLITS)}")
        if self.cv_folds < 2:
            raise ConfigError(f"cv_folds must be >= 2, got {self.cv_folds}")
        from krel_interp.probes.baselines import BASELINES

        unknown = sorted(set(self.baselines) - set(BASELINES))
        if unknown:
            raise ConfigError(f"unknown baseline(s) {unknown}; valid: {', '.join(BASELINES)}")
        from krel_interp.probes.methods import get_method

        get_method(self.method)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (saved with every probe)."""
        return asdict(self)


def load_probe_config(path: str | Path, **overrides: Any) -> ProbeConfig:
    """Read a TOML probe config; unknown keys and bad values give one-line errors."""
    path = Path(path)
    raw = read_toml(path, "probe config")
    raw.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in fields(ProbeConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}")
    missing = [k for k in ("name", "model", "prompts") if k not in raw]
    if missing:
        raise ConfigError(f"{path}: missing key(s) {', '.join(missing)}")
    prompts = Path(raw["prompts"])
    if not prompts.is_absolute():
        candidate = path.parent / prompts
        raw["prompts"] = str(candidate if candidate.exists() else prompts)
    try:
        return ProbeConfig(**raw)
    except TypeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
