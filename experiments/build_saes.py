"""Train smolthink's base SAEs with sae-lens (``make saes``; resumable, ~35 min on 2 cores).

    python experiments/build_saes.py            # saes/smolthink/<site>/, saes/smolthink-matryoshka/
    python experiments/build_saes.py --saes matryoshka-l21     # one of them

Data (teacher-forced, already in the repo, see ``sae_data.py``): the train split of the KREL-mini
scenario suites with their training targets, the train split of the document corpus and the
naturalness webtext, captured once through smolthink (the thinking base) at two sites: layer 21,
where the decision probe peaks, and layer 12. Position 0 (an attention sink, far larger in norm
than the rest) and any row above 10x the median norm are left out; 10% of families are held out for
explained variance, L0 and dead fraction. Each SAE is TopK (k 32, 4,096 latents, sae-lens's
auxiliary loss against dead latents, decoder bias started at the data mean, batches of 1,024),
saved in sae-lens's format with 16-bit weights and a card. A third, at layer 21, is a Matryoshka
BatchTopK SAE (prefix widths 128, 512, 2,048, 4,096; k 32 on average; saved as JumpReLU) in
``saes/smolthink-matryoshka/``: added after exploration (``sae_early_layer.py``; README, SAE
section) showed that it gives leaky-mini's invented names a latent the TopK SAEs split up.
The last line printed is ``{"sae": {SITE: {"explained_variance", "l0", "dead_fraction"}},
"sae_matryoshka": {SITE: {...}}}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from rich.logging import RichHandler
from sae_data import sae_text_traces

from krel_interp.cli.common import progress_bar, run_script
from krel_interp.io import sha256_json

ROOT = Path(__file__).resolve().parents[1]
LAYERS = (12, 21)
MODEL = "smolthink"
MATRYOSHKA_WIDTHS = (128, 512, 2048, 4096)
# name -> (layer, output directory under saes/, extra config)
SAES: dict[str, tuple[int, str, dict[str, Any]]] = {
    "l12": (12, MODEL, {}),
    "l21": (21, MODEL, {}),
    "matryoshka-l21": (
        21,
        f"{MODEL}-matryoshka",
        {"architecture": "matryoshka_batchtopk", "matryoshka_widths": MATRYOSHKA_WIDTHS},
    ),
}


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
    parser.add_argument("--out", type=Path, default=ROOT / "saes", help="parent of the SAE dirs")
    parser.add_argument("--saes", default=",".join(SAES), help=f"subset of {', '.join(SAES)}")
    parser.add_argument("--tokens", type=int, default=1_000_000, help="training samples per SAE")
    parser.add_argument("--overwrite", action="store_true", help="drop training checkpoints")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, handlers=[RichHandler(show_path=False)])

    from krel_interp.capture import ActivationStore
    from krel_interp.errors import ConfigError
    from krel_interp.sae import SaeTrainConfig, train_sae

    chosen = [x.strip() for x in args.saes.split(",") if x.strip()]
    if not chosen or set(chosen) - set(SAES):
        raise ConfigError(f"unknown SAE in {args.saes!r}; choose from {', '.join(SAES)}")
    store = capture(args.work)
    header = ActivationStore(store).header
    provenance = {
        "model": MODEL,
        "fingerprint": header["fingerprint"],
        "data": "experiments/sae_data.py: suites (train) + corpus (train) + webtext",
        "traces_sha256": header["traces_sha256"],
    }
    summary: dict[str, dict[str, Any]] = {}
    for key in chosen:
        layer, model_dir, extra = SAES[key]
        site = f"blocks.{layer}.hook_resid_post"
        config = SaeTrainConfig(
            name=f"{model_dir}-{site}",
            store=str(store),
            site=site,
            out=str(args.out / model_dir / site),
            training_tokens=args.tokens,
            **extra,
        )
        started = time.perf_counter()
        workdir = args.work / ("train-" + ("" if model_dir == MODEL else f"{model_dir}-") + site)
        if args.overwrite:
            shutil.rmtree(workdir, ignore_errors=True)
        with progress_bar(f"training {key} ({site})", config.total_steps) as advance:
            out = train_sae(
                config,
                workdir=workdir,
                provenance={**provenance, "config_sha256": sha256_json(config.to_dict())},
                progress=advance,
            )
        card = json.loads((out / "card.json").read_text())
        held = card["heldout"]
        group = "sae" if model_dir == MODEL else "sae_matryoshka"
        summary.setdefault(group, {})[site] = {
            k: held[k] for k in ("explained_variance", "l0", "dead_fraction")
        }
        logging.info("%s: %s in %.0f s", site, held, time.perf_counter() - started)
    print(json.dumps(summary))


if __name__ == "__main__":
    run_script(main)
