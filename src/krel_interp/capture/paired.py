"""Paired capture: the same token sequences through base and organism, rows aligned."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from krel_interp.capture.config import CaptureConfig
from krel_interp.capture.runner import capture_traces, resolve_sites
from krel_interp.capture.store import ActivationStore
from krel_interp.errors import IncompatibleArtifactError
from krel_interp.io import Progress, write_json_atomic
from krel_interp.models.loading import LoadedPair
from krel_interp.traces import Trace


@dataclass(frozen=True)
class PairedStore:
    """Two stores whose rows correspond one to one."""

    base: ActivationStore
    organism: ActivationStore

    @classmethod
    def open(cls, root: str | Path) -> PairedStore:
        """Open ``root/base`` and ``root/organism`` and check they are aligned."""
        root = Path(root)
        pair = cls(ActivationStore(root / "base"), ActivationStore(root / "organism"))
        pair.check_aligned()
        return pair

    def check_aligned(self) -> None:
        """Refuse stores whose rows are not the same tokens."""
        for col in ("trace_index", "position", "token_id"):
            if not torch.equal(self.base.column(col), self.organism.column(col)):
                raise IncompatibleArtifactError(f"paired stores differ in row column {col!r}")


def capture_pair(
    pair: LoadedPair,
    traces: Sequence[Trace],
    config: CaptureConfig,
    out: str | Path,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
    length_sorted: bool = False,
) -> PairedStore:
    """Capture ``traces`` through both models into ``out/base`` and ``out/organism``.

    Both models see exactly the same token ids (tokenized once with the shared tokenizer);
    differing tokenizers or chat templates are refused before any work is done.
    ``length_sorted``: as in :func:`capture_traces` (both sides batch alike).
    """
    pair.base.fingerprint.check_tokens_compatible(pair.organism.fingerprint, "base and organism")
    resolve_sites(config, pair.organism.n_layers)  # bad layers fail before anything is written
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(
        out / "pair.json",
        {
            "base": pair.base.fingerprint.to_dict(),
            "organism": pair.organism.fingerprint.to_dict(),
            "config": config.to_dict(),
        },
    )
    org, base = (
        capture_traces(
            lm,
            traces,
            config,
            out / side,
            overwrite=overwrite,
            progress=progress,
            length_sorted=length_sorted,
        )
        for lm, side in ((pair.organism, "organism"), (pair.base, "base"))
    )
    paired = PairedStore(base, org)
    paired.check_aligned()
    return paired
