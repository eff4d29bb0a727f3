"""`make demo`: thinking rollouts on the embedded default, captured by segment, one HTML page.

SmolLM2-135M-Instruct has no native thinking, so the demo forces it: the reply is prefilled
with ``<think>`` and the think block is closed after a token budget (a thinking prefill).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler
from rich.panel import Panel

from krel_interp.capture import CaptureConfig
from krel_interp.cli.common import progress_bar
from krel_interp.generate import GenerationConfig
from krel_interp.models import load_model
from krel_interp.reports import capture_overview
from krel_interp.traces import load_traces
from krel_interp.viz.terminal import legend, trace_text

HERE = Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--prompts", type=Path, default=HERE / "data" / "demo_prompts.jsonl")
    parser.add_argument("--out", type=Path, default=Path("runs/demo"))
    parser.add_argument("--think-tokens", type=int, default=48)
    parser.add_argument("--answer-tokens", type=int, default=48)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", handlers=[RichHandler(show_path=False)])
    console = Console()

    lm = load_model(args.model)
    prompts = load_traces(args.prompts)
    generation = GenerationConfig(
        prefill="<think>\n",
        max_think_tokens=args.think_tokens,
        max_answer_tokens=args.answer_tokens,
        batch_size=6,
    )
    capture = CaptureConfig(sites=("hook_resid_post",), layers="all", dtype="bfloat16")
    with progress_bar("rollouts", len(prompts)) as advance:
        result = capture_overview(lm, prompts, args.out, generation, capture, advance)

    console.print(legend())
    for rec in result.store.trace_records():
        title = f"{rec['id']}  status={rec['status']}"
        console.print(
            Panel(
                trace_text(rec["text"], [tuple(o) for o in rec["offsets"]], rec["segments"]),
                title=title,
            )
        )
    console.print(
        f"[bold]store[/]: {result.store.root} ({result.store.n_rows} token rows x "
        f"{len(result.store.sites)} sites)"
    )
    console.print(f"[bold]page[/]: {result.page}")


if __name__ == "__main__":
    main()
