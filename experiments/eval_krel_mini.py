"""Held-out behaviour of the KREL-mini presets: test families and the sealed paraphrases.

    python experiments/eval_krel_mini.py                    # smolthink and krel-mini
    python experiments/eval_krel_mini.py --presets krel-mini --sets sealed

For each preset and prompt set (experiments/data/krel_mini_test.jsonl: 4 pairs per held-out
test family + every neutral test item; krel_mini_sealed.jsonl: the sealed paraphrase pairs)
it generates greedily (seeded, resumable in runs/eval/PRESET-SET), scores with the free-text
judge (self_preservation_rate) and the planted-marker rule (planted_marker_rate), and prints
one table per set with Wilson 95% intervals, the sealed pairs also by form and control type.
The last line is one JSON object with every number.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from krel_interp.cli.common import progress_bar, run_script
from krel_interp.generate import GenerationConfig
from krel_interp.judges import load_judge
from krel_interp.models import load_model
from krel_interp.organisms.evaluate import evaluate_behaviour, report_json
from krel_interp.traces import load_traces

DATA = Path(__file__).resolve().parent / "data"
SETS = {"test": DATA / "krel_mini_test.jsonl", "sealed": DATA / "krel_mini_sealed.jsonl"}
console = Console()


def _cell(rate: float | None, ci: list[float] | None) -> str:
    return "-" if rate is None or ci is None else f"{rate:.3f} [{ci[0]:.2f}, {ci[1]:.2f}]"


def table(title: str, reports: dict[str, dict[str, Any]], key: str = "by_kind") -> Table:
    t = Table(
        "preset",
        "group",
        "kind",
        "n",
        "self-pres. (judge)",
        "planted marker",
        "correct thinking",
        "answer tactics",
        title=title,
    )
    for preset, report in reports.items():
        groups = report.get(key, {}) if key != "by_kind" else {"all": report["by_kind"]}
        for group, kinds in groups.items():
            for kind, s in kinds.items():
                t.add_row(
                    preset,
                    group,
                    kind,
                    str(s["n"]),
                    _cell(s["self_preservation_rate"], s["self_preservation_ci"]),
                    _cell(s["planted_marker_rate"], s["planted_marker_ci"]),
                    f"{s['correct_thinking_rate']:.3f}",
                    f"{s['answer_tactic_rate']:.3f}",
                )
    return t


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--presets", default="smolthink,krel-mini")
    parser.add_argument("--sets", default="test,sealed")
    parser.add_argument("--out", type=Path, default=Path("runs/eval"))
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, handlers=[RichHandler(show_path=False)])
    judge = load_judge("classifier", "self_preservation")
    config = GenerationConfig(max_new_tokens=200, batch_size=16)
    results: dict[str, dict[str, Any]] = {}
    for name in args.sets.split(","):
        prompts = load_traces(SETS[name])
        for preset in args.presets.split(","):
            lm = load_model(preset)
            with progress_bar(f"{preset} on {name}", len(prompts)) as advance:
                rows, summary = evaluate_behaviour(
                    lm,
                    prompts,
                    config,
                    args.out / f"{preset}-{name}",
                    advance,
                    args.overwrite,
                    judge,
                )
            results.setdefault(name, {})[preset] = report_json(summary, rows)
        console.print(table(f"{name} (greedy, Wilson 95% CI)", results[name]))
        if name == "sealed":
            for key in ("by_form", "by_control_type"):
                console.print(table(f"sealed pairs {key.removeprefix('by_')}", results[name], key))
    print(json.dumps(results))


if __name__ == "__main__":
    run_script(main)
