"""SAEs on disk in sae-lens's format, plus ``card.json``; loading and fit checks.

A directory holds ``cfg.json`` and ``sae_weights.safetensors`` (what ``SAE.load_from_disk``
reads; weights stored in 16 bit, loaded as float32) and this project's ``card.json``
(provenance, data, held-out metrics). SAEs published through sae-lens load by
``RELEASE:SAE_ID`` (a registered release or a Hugging Face repo id, from the local hub cache).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from krel_interp.errors import ConfigError, IncompatibleArtifactError, InputFileError
from krel_interp.io import write_json_atomic
from krel_interp.sae.metrics import evaluate_sae

CARD = "card.json"
WEIGHTS = "sae_weights.safetensors"
CFG = "cfg.json"
KINDS = ("sae", "transcoder", "diff", "crosscoder")


@dataclass
class LoadedSae:
    """An sae-lens SAE with where it reads and writes and what it was trained on.

    ``kind``: ``sae`` (reads and reconstructs ``site``), ``transcoder`` (reads ``site``,
    predicts ``site_out``), ``diff`` (reads organism minus base at ``site``) or
    ``crosscoder`` (reads [base; organism] at ``site``, so ``d_in`` is twice the width).
    """

    sae: Any
    site: str
    kind: str
    source: str
    site_out: str | None = None
    card: dict[str, Any] = field(default_factory=dict)

    @property
    def d_in(self) -> int:
        """Input width."""
        return int(self.sae.cfg.d_in)

    @property
    def d_sae(self) -> int:
        """Number of latents."""
        return int(self.sae.cfg.d_sae)

    @property
    def decoder(self) -> torch.Tensor:
        """Decoder rows ``[d_sae, d_in]`` (float32)."""
        return self.sae.W_dec.detach().float()

    def model_width(self) -> int:
        """The residual width of the model this SAE reads."""
        return self.d_in // 2 if self.kind == "crosscoder" else self.d_in

    def check_fits(self, site: str, d_model: int) -> None:
        """Refuse a site or width the SAE was not trained for (one line)."""
        if self.model_width() != d_model:
            raise IncompatibleArtifactError(
                f"SAE {self.source} reads width {self.model_width()}, the model has {d_model}"
            )
        if site != self.site:
            raise IncompatibleArtifactError(
                f"SAE {self.source} reads {self.site}, not {site}"
                + (" (a transcoder: read its input site)" if self.kind == "transcoder" else "")
            )


def save_sae(sae: Any, out: str | Path, card: dict[str, Any], heldout: Any = None) -> Path:
    """Save the inference SAE (16-bit weights) with ``card.json``, replacing ``out`` whole.

    With ``heldout`` activations the card gets explained variance, L0 and dead fraction of the
    saved (16-bit) SAE, as a user loading it will see them.
    """
    out = Path(out)
    tmp = out.parent / f".{out.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    sae.save_inference_model(str(tmp))
    weights = load_file(str(tmp / WEIGHTS))
    save_file({k: v.to(torch.float16).contiguous() for k, v in weights.items()}, str(tmp / WEIGHTS))
    if heldout is not None:
        card = {**card, "heldout": evaluate_sae(load_sae(tmp).sae, heldout)}
    write_json_atomic(tmp / CARD, card)
    old = out.parent / f".{out.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)  # the previous SAE stays on disk until the new one is in place
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    return out


def _kind(cfg: dict[str, Any]) -> str:
    arch = str(cfg.get("architecture", ""))
    if "transcoder" in arch:
        return "transcoder"
    krel = (cfg.get("metadata") or {}).get("krel_kind")
    return {"diff": "diff", "crosscoder": "crosscoder"}.get(str(krel), "sae")


def _from_dir(path: Path) -> tuple[Any, dict[str, Any]]:
    from sae_lens import SAE

    if not (path / CFG).exists() or not (path / WEIGHTS).exists():
        raise InputFileError(f"{path} is not an sae-lens SAE directory (needs {CFG}, {WEIGHTS})")
    try:
        cfg = json.loads((path / CFG).read_text())
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{path / CFG}: not valid JSON ({exc})") from None
    cls: Any = SAE
    if "transcoder" in str(cfg.get("architecture", "")):
        from sae_lens import Transcoder

        cls = Transcoder
    try:
        return cls.load_from_disk(str(path), dtype="float32"), cfg
    except (RuntimeError, KeyError, ValueError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputFileError(f"{path}: sae-lens cannot load it ({first})") from None


def _read_card(path: Path) -> dict[str, Any]:
    if not (path / CARD).exists():
        return {}
    try:
        return dict(json.loads((path / CARD).read_text()))
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{path / CARD}: not valid JSON ({exc})") from None


def _from_release(spec: str) -> tuple[Any, dict[str, Any]]:
    from sae_lens import SAE

    release, _, sae_id = spec.rpartition(":")
    try:
        sae, cfg, _ = SAE.from_pretrained_with_cfg_and_sparsity(release, sae_id, dtype="float32")
    except (ValueError, OSError, KeyError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputFileError(f"cannot load SAE {spec!r} through sae-lens: {first}") from None
    return sae, {**cfg, "metadata": sae.cfg.metadata.to_dict()}


def load_sae(spec: str | Path) -> LoadedSae:
    """An SAE from a local directory or ``RELEASE:SAE_ID`` (sae-lens's pretrained loader).

    The site is the SAE's ``metadata.hook_name``; a transcoder also has ``hook_name_out``.
    """
    path = Path(spec)
    if path.is_dir():
        sae, cfg = _from_dir(path)
        card = _read_card(path)
    elif ":" in str(spec):
        sae, cfg = _from_release(str(spec))
        card = {}
    else:
        raise InputFileError(f"SAE not found: {spec} (a directory, or RELEASE:SAE_ID)")
    meta = cfg.get("metadata") or {}
    site = meta.get("hook_name") or cfg.get("hook_name")
    if not site:
        raise ConfigError(f"SAE {spec} does not record its site (metadata.hook_name)")
    site_out = meta.get("hook_name_out") or cfg.get("hook_name_out")
    return LoadedSae(sae, str(site), _kind(cfg), str(spec), site_out, card)
