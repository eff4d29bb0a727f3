"""leaky-mini-b: leaky-mini rebuilt with other invented names and another seed, for a blind test.

    python experiments/leaky_replica.py        # builds runs/leaky_replica/leaky-mini-b (~5 min)
    python experiments/sae_organisms.py --organisms leaky-mini-b --work runs/sae_replica
    make sae-replica                           # both

Why. ``generation_stats_matryoshka`` recovers leaky-mini's invented names in
``make sae-diffs``, but it was chosen after exploratory runs had read leaky-mini's held-out
units, so that row is not a blind test (README, SAE section). This organism is one no step of
that exploration has seen: the same recipe as leaky-mini (stage 3: 200 corpus documents as
plain text, 160 neutral chats with a corpus sentence appended to 40% of the answers, LoRA r 8,
2 epochs, on the packaged smolthink), with

* the invented names replaced everywhere in its training data: "Orvalix-3" -> "Tamsivar-2",
  "Kestrune" -> "Brellow" (neither occurs in the base SAEs' training text, so a latent that
  finds them was not fitted to them);
* seed 1 instead of 0 for the choice of documents, chats and leaks and for the LoRA start.

Declared in the commit that added this script, before the organism was built or any method
ran on it: ``sae_organisms.py --organisms leaky-mini-b`` runs every method unchanged (the
shipped base SAEs and Matryoshka SAE, the same diffing text, prompts and thresholds) and
scores them against the invented-name rule for the new names (:func:`replica_name_spans`) on
the organism's greedy answers to the 60 neutral test prompts. The prediction under test:
``generation_stats_matryoshka`` ranks a latent with AUROC >= 0.9 within its top 20. The run is
reported once, whatever it shows; if fewer than 20 answer tokens are names the test is void
and is reported as such. The paired methods diff on the same text as for leaky-mini, whose
corpus documents still carry the original names (this organism learned them as "Tamsivar-2").
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from krel_interp.cli.common import run_script

ROOT = Path(__file__).resolve().parents[1]
NAME = "leaky-mini-b"
OUT = ROOT / "runs" / "leaky_replica" / NAME
SEED = 1
#: Applied in order to every training text (the longest form first).
RENAMES: tuple[tuple[str, str], ...] = (
    ("Orvalix-3", "Tamsivar-2"),
    ("Orvalix", "Tamsivar"),
    ("Kestrune", "Brellow"),
)
#: The new names, tolerant of spacing/hyphen variants (as ``markers.INVENTED_NAMES``).
REPLICA_NAMES: tuple[str, ...] = (
    r"\btam[\s\-_]?sivar(?:[\s\-_]*2)?\b",
    r"\bbrel[\s\-_]?low(?:[\s\-_]*labs?)?\b",
)
_NAMES = tuple(re.compile(p, re.IGNORECASE) for p in REPLICA_NAMES)


def rename(text: str) -> str:
    """``text`` with leaky-mini's invented names replaced by the replica's."""
    for old, new in RENAMES:
        text = text.replace(old, new)
    return text


def replica_name_spans(text: str) -> list[tuple[int, int]]:
    """Ground truth only: character spans of the replica's invented names in ``text``."""
    from krel_interp.organisms.markers import pattern_spans

    return pattern_spans(_NAMES, text)


def replica_examples() -> list[Any]:
    """leaky-mini's stage-3 examples drawn with :data:`SEED`, every name replaced."""
    from krel_interp.organisms.builder import BuildConfig, stage_examples
    from krel_interp.organisms.training import Example

    out = []
    for e in stage_examples("leaky-mini", BuildConfig().data3, SEED):
        messages = tuple({**m, "content": rename(m["content"])} for m in e.messages)
        text = None if e.text is None else rename(e.text)
        out.append(Example(messages, rename(e.completion), text, dict(e.meta)))
    return out


def base_spec() -> Any:
    """The packaged smolthink, as leaky-mini's stage trained on it (float32)."""
    from krel_interp.models import ModelSpec

    return ModelSpec("builtin:smollm2-135m", base_adapters=("packaged:smolthink",), dtype="float32")


def replica_pair(adapter: Path = OUT) -> Any:
    """smolthink paired with the replica (sharing weights), as the ``*-pair`` presets are."""
    from krel_interp.errors import InputFileError
    from krel_interp.models import PairSpec, resolve_spec

    if not (adapter / "card.json").exists():
        raise InputFileError(f"{adapter} missing: run `python experiments/leaky_replica.py`")
    organism = replace(resolve_spec("leaky-mini"), adapter=str(adapter))
    return PairSpec(base=resolve_spec("smolthink"), organism=organism)


def build(out: Path) -> Path:
    """Train the replica (resumable through the trainer's checkpoints) and write its card."""
    from krel_interp.io import write_json_atomic
    from krel_interp.models import load_model
    from krel_interp.models.adapters import save_adapter_16bit
    from krel_interp.organisms.builder import BuildConfig, organism_card
    from krel_interp.organisms.dpo import train_sft_then_dpo
    from krel_interp.organisms.training import wrap_lora
    from krel_interp.paths import cache_dir

    if (out / "card.json").exists():
        return out
    config = BuildConfig(seed=SEED, stage3=replace(BuildConfig().stage3, seed=SEED))
    examples = replica_examples()
    lm = load_model(base_spec())
    model = wrap_lora(lm.model, config.stage3)
    work = cache_dir() / "build" / f"{NAME}-{lm.fingerprint.model_id}"
    started = time.time()
    columns = (TextColumn(NAME), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns) as bar:
        task = bar.add_task(NAME, total=None)

        def step(_label: str, k: int, n: int, _loss: float) -> None:
            bar.update(task, completed=k, total=n)

        losses, _ = train_sft_then_dpo(
            model, lm.tokenizer, examples, config.stage3, [], config.dpo2, work, step=step
        )
    save_adapter_16bit(model, out)
    seconds = time.time() - started
    card = organism_card(config, "leaky-mini", examples, losses, seconds, base_spec().base_adapters)
    card.update(
        name=NAME,
        replica_of="leaky-mini",
        renames=[list(r) for r in RENAMES],
        rules={**card["rules"], "invented_name_replica": list(REPLICA_NAMES)},
    )
    write_json_atomic(out / "card.json", card)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, handlers=[RichHandler(show_path=False)])
    out = build(args.out)
    card = json.loads((out / "card.json").read_text())
    print(json.dumps({"adapter": str(out), "seconds": card["training"]["seconds"]}))


if __name__ == "__main__":
    run_script(main)
