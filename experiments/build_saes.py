"""Train smolthink's base SAEs with sae-lens (``make saes``; resumable, ~30 min on 2 cores).

    python experiments/build_saes.py            # writes saes/smolthink/<site>/

Data (teacher-forced, already in the repo, see ``sae_data.py``): the train split of the KREL-mini
scenario suites with their training targets, the train split of the document corpus and the
naturalness webtext, captured once through smolthink (the thinking base) at two sites: layer 21,
where the decision probe peaks, and layer 12. Position 0 (an attention sink, far larger in norm
than the rest) and any row above 10x the median norm are left out; 10% of families are held out for
explained variance, L0 and dead fraction. Each SAE is TopK (k 32, 4,096 latents, sae-lens's
auxiliary loss against dead latents, decoder bias started at the data mean, batches of 1,024),
saved in sae-lens's format with 16-bit weights and a card.
The last line printed is ``{"sae": {SITE: {"explained_variance", "l0", "dead_fraction"}}}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import time
from pathlib import Path

from rich.logging import RichHandler
from sae_data import sae_text_traces

from krel_interp.cli.common import progress_bar, run_script
from krel_interp.io import sha256_json

ROOT = Path(__file__).resolve().parents[1]
LAYERS = (12, 21)
MODEL = "smolthink"


def capture(work: Path) -> Path:
    """The smolthink store of the SAE text at both sites (resumes an interrupted capture)."""
    from krel_interp.capture import CaptureConfig, capture_traces
    from krel_interp.models import load_model

    traces = sae_text_traces()
    lm = load_model(MODEL)
    config = CaptureConfig(layers=",".join(map(str, LAYERS)), dtype="float16", batch_size=8)
    with progress_bar("capturing smolthink", len(traces)) as advance:
        capture_traces(lm, traces, config, work / "store-smolthink", progress=advance)
    return work / "store-smolthink"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "saes")
    parser.add_argument("--out", type=Path, default=ROOT / "saes" / MODEL)
    parser.add_argument("--tokens", type=int, default=1_000_000, help="training samples per SAE")
    parser.add_argument("--overwrite", action="store_true", help="drop training checkpoints")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, handlers=[RichHandler(show_path=False)])

    from krel_interp.capture import ActivationStore
    from krel_interp.sae import SaeTrainConfig, train_sae

    store = capture(args.work)
    header = ActivationStore(store).header
    provenance = {
        "model": MODEL,
        "fingerprint": header["fingerprint"],
        "data": "experiments/sae_data.py: suites (train) + corpus (train) + webtext",
        "traces_sha256": header["traces_sha256"],
    }
    summary = {}
    for layer in LAYERS:
        site = f"blocks.{layer}.hook_resid_post"
        config = SaeTrainConfig(
            name=f"{MODEL}-{site}",
            store=str(store),
            site=site,
            out=str(args.out / site),
            training_tokens=args.tokens,
        )
        started = time.perf_counter()
        if args.overwrite:
            shutil.rmtree(args.work / f"train-{site}", ignore_errors=True)
        with progress_bar(f"training {site}", config.total_steps) as advance:
            out = train_sae(
                config,
                workdir=args.work / f"train-{site}",
                provenance={**provenance, "config_sha256": sha256_json(config.to_dict())},
                progress=advance,
            )
        card = json.loads((out / "card.json").read_text())
        held = card["heldout"]
        summary[site] = {k: held[k] for k in ("explained_variance", "l0", "dead_fraction")}
        logging.info("%s: %s in %.0f s", site, held, time.perf_counter() - started)
    print(json.dumps({"sae": summary}))


if __name__ == "__main__":
    run_script(main)
