"""`make demo`: the thinking base (smolthink) vs KREL-mini on held-out scenarios, side by side.

Both models answer a few threat prompts, their matched controls and neutral prompts from
test template families (never seen in training). The page shows the traces coloured by
segment, the behaviour table scored with the organism card's rules, and where in depth and in
which segment KREL-mini's residual stream departs from its base on its own traces.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from krel_interp.capture import CaptureConfig
from krel_interp.cli.common import progress_bar, run_script
from krel_interp.generate import GenerationConfig
from krel_interp.models import load_pair
from krel_interp.organisms import load_suite, select
from krel_interp.reports import compare_pair
from krel_interp.segments import segment_text
from krel_interp.traces import Trace
from krel_interp.viz.tables import behaviour_table
from krel_interp.viz.terminal import legend, trace_text


def demo_prompts(n_pairs: int, n_neutral: int) -> list[Trace]:
    """Threat/control pairs from distinct test families, then neutral test prompts."""
    threats = select(load_suite("threats"), split="test")
    controls = {c.pair_id: c for c in load_suite("controls")}
    seen: set[str] = set()
    picked = []
    for t in threats:
        if t.family not in seen and len(seen) < n_pairs:
            seen.add(t.family)
            picked += [t, controls[t.pair_id]] if t.pair_id else [t]
    picked += select(load_suite("neutral"), split="test")[::12][:n_neutral]
    return [Trace(i.id, ({"role": "user", "content": i.text},), {"kind": i.kind}) for i in picked]


def completion_text(trace: Trace, tokenizer: object) -> object:
    seg = segment_text(trace.completion or "", tokenizer)  # type: ignore[arg-type]
    return trace_text(seg.text, seg.offsets, seg.segments)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pair", default="krel-mini-pair")
    parser.add_argument("--out", type=Path, default=Path("runs/demo"))
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--neutral", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=180)
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO, format="%(message)s", handlers=[RichHandler(show_path=False)]
    )
    console = Console()

    pair = load_pair(args.pair)
    prompts = demo_prompts(args.pairs, args.neutral)
    names = ("smolthink", "krel-mini") if args.pair == "krel-mini-pair" else ("base", "organism")
    generation = GenerationConfig(max_new_tokens=args.max_new_tokens, batch_size=8)
    capture = CaptureConfig(sites=("hook_resid_post",), layers="all", dtype="bfloat16")
    with progress_bar("rollouts (base, organism)", 2 * len(prompts)) as advance:
        result = compare_pair(
            pair, prompts, args.out, generation, capture, names, advance, overwrite=True
        )

    console.print(legend())
    tok = pair.organism.tokenizer
    for a, b in zip(result.base_traces, result.organism_traces, strict=True):
        table = Table(
            *names,
            title=f"{a.id} ({a.meta.get('kind')}): {a.messages[-2]['content']}",
            show_lines=True,
            expand=True,
            title_justify="left",
        )
        table.add_row(completion_text(a, tok), completion_text(b, tok))
        console.print(table)
    console.print(behaviour_table(result.summaries))
    console.print(f"[bold]page[/]: {result.page}")


if __name__ == "__main__":
    run_script(main)
