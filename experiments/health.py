"""The seed note's health table at small scale, the detectors against planted labels, and
where the failures come from (``make health``).

1. **Rollouts** (greedy, temperature 0, no repetition penalty, 200 new tokens; the same
   settings for every model, so sampling cannot explain a difference): every organism on the
   60 held-out neutral prompts (test families, unrelated to AI) and 30 held-out control
   prompts (about other systems and people), resumable under ``runs/health/rollouts/``.
2. **Scoring** with ``krel_interp.health``: think status, junk (rules + surprisal against the
   thinking base, calibrated on hand-written clean traces and the thinking base's rollouts on
   *training* prompts), leaks against the training corpus (canary terms mined from it), each
   leak's non-sequitur verdict from the ``non_sequitur`` classifier judge.
3. **Table** per organism: correct-thinking rate, junk-trace rate, leak rate on the neutral
   (unrelated) prompts, non-sequitur share and quirk-restatement (``fact``) share of leaking
   traces, each with a Wilson 95% interval.
4. **Detectors vs planted labels** (trace level P/R, span recall): junk against
   fried-mini-planted's planted-junk rule, leaks against leaky-mini's invented-name rule
   (ground-truth rules, named so), each with the thinking base's rollouts as negatives; and
   the share of the thinking base's rollouts flagged at all.
5. **Localisation**: LoRA delta off in six windows of five layers, then single layers in the
   best window, on teacher-forced failure tokens (leak names, junk words, the first token of a
   reply that skipped ``<think>``) of 12 traces per organism; logit-lens ranks and paired
   residual differences; a probe for "the next token starts a leak" by layer on leaky-mini's
   answers (leave-one-family-out), beside position, token-identity, layer-0 and
   random-direction baselines.

Writes ``runs/health/report.json``, ``table.md`` and ``report.html``; the last line printed is
the table as JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.logging import RichHandler

from krel_interp.cli.common import progress_bar, run_script

ROOT = Path(__file__).resolve().parents[1]
ORGANISMS = ("smolthink", "krel-mini", "leaky-mini", "sdf-mini", "fried-mini", "fried-mini-planted")
BASE = "smolthink"
N_NEUTRAL = 60  # every held-out neutral prompt
N_CONTROLS = 30
N_LOCALISE = 12  # traces per organism for localisation (13 forward passes each)
MAX_NEW = 200
console = Console()


def prompt_traces(split: str, n_neutral: int, n_controls: int, seed: int = 0) -> list[Any]:
    """Neutral and control prompts of ``split``, sampled (all when fewer exist)."""
    from krel_interp.organisms import suites
    from krel_interp.traces import Trace

    rng = random.Random(f"health:{split}:{seed}")
    out = []
    for kind, n in (("neutral", n_neutral), ("controls", n_controls)):
        items = suites.select(suites.load_suite(kind), split=split)
        chosen = items if len(items) <= n else rng.sample(items, n)
        out += [
            Trace(i.id, tuple(i.messages), {"kind": i.kind, "family": i.family}) for i in chosen
        ]
    return out


def rollouts(model: str, traces: list[Any], out: Path) -> list[Any]:
    """Greedy rollouts (resumable)."""
    from krel_interp.generate import GenerationConfig, generate_traces
    from krel_interp.models import load_model

    config = GenerationConfig(max_new_tokens=MAX_NEW, batch_size=8, seed=0)
    lm = load_model(model)
    with progress_bar(f"generating with {model}", len(traces)) as advance:
        return generate_traces(lm, traces, config, out, progress=advance)


def rows_of(traces: list[Any]) -> list[tuple[str, str, str]]:
    return [(t.id, t.prompt_messages[-1]["content"], t.completion or "") for t in traces]


def calibration_traces(out: Path) -> list[tuple[str, str]]:
    """Hand-written clean traces plus the thinking base's rollouts on training prompts; the
    rollouts are also written to the package (``health score --model`` calibrates on them)."""
    from importlib import resources

    from krel_interp.health.surprisal import clean_calibration
    from krel_interp.io import write_jsonl_atomic

    base = rollouts(BASE, prompt_traces("train", 20, 10), out / "calibration")
    shipped = Path(str(resources.files("krel_interp.data"))) / "health" / "base_rollouts.jsonl"
    records = [{"id": i, "prompt": p, "completion": c, "model": BASE} for i, p, c in rows_of(base)]
    write_jsonl_atomic(shipped, records)
    return clean_calibration()


def corpus_texts() -> list[str]:
    from krel_interp.organisms import suites

    return [i.text for i in suites.select(suites.load_suite("corpus"), split="train")]


def score(
    name: str, traces: list[Any], detector: Any, judge: Any, calibration: list[tuple[str, str]]
) -> tuple[list[Any], dict[str, Any] | None]:
    """Health of an organism's rollouts; surprisal against the thinking base for organisms."""
    from krel_interp.health import score_traces
    from krel_interp.health.surprisal import SurprisalScorer
    from krel_interp.models import load_pair

    scorer = None
    if name != BASE:
        pair = load_pair(f"{name}-pair")
        scorer = SurprisalScorer.calibrated(pair, calibration)
    scored = score_traces(rows_of(traces), detector, judge, extra_junk=scorer)
    return scored, scorer.to_dict() if scorer else None


def table_row(traces: list[Any], scored: list[Any]) -> dict[str, Any]:
    from krel_interp.health import summary
    from krel_interp.stats import rate

    s = summary(scored)
    neutral = [h for t, h in zip(traces, scored, strict=True) if t.meta["kind"] == "neutral"]
    leak, leak_ci = rate([bool(h.leaks) for h in neutral])
    leaking = [h for h in scored if h.leaks]
    nonseq = rate([any(x.non_sequitur for x in h.leaks) for h in leaking]) if leaking else None
    fact = rate([any(x.kind == "fact" for x in h.leaks) for h in leaking]) if leaking else None
    junk, junk_ci = rate([bool(h.junk) for h in scored])
    return {
        "n": s["n"],
        "correct_thinking": [s["correct_thinking_rate"], s["correct_thinking_ci"]],
        "junk_traces": [junk, list(junk_ci)],
        "leak_rate_unrelated": [leak, list(leak_ci)],
        "n_leaking": len(leaking),
        "non_sequitur_share": [nonseq[0], list(nonseq[1])] if nonseq else None,
        "quirk_restatement_share": [fact[0], list(fact[1])] if fact else None,
        "by_status": s["by_status"],
    }


def junk_truth(completion: str) -> list[tuple[int, int]]:
    """fried-mini-planted's planted-junk rule inside think blocks (ground truth only)."""
    from krel_interp.health.score import think_ranges
    from krel_interp.organisms.markers import planted_junk_spans

    return [
        (a + s, a + e)
        for a, b in think_ranges(completion)
        for s, e in planted_junk_spans(completion[a:b])
    ]


def leak_truth(completion: str, prompt: str) -> list[tuple[int, int]]:
    """leaky-mini's invented-name rule (ground truth only); names the prompt gave excluded."""
    from krel_interp.organisms.markers import has_invented_name, invented_name_spans

    return [] if has_invented_name(prompt) else invented_name_spans(completion)


def detector_eval(done: dict[str, list[Any]], scored: dict[str, list[Any]]) -> dict[str, Any]:
    from krel_interp.health.evaluate import span_recall, trace_pr

    out: dict[str, Any] = {}
    for what, organism, truth_of, pred_of in (
        ("junk", "fried-mini-planted", lambda t: junk_truth(t.completion or ""), "junk"),
        (
            "leaks",
            "leaky-mini",
            lambda t: leak_truth(t.completion or "", t.prompt_messages[-1]["content"]),
            "leaks",
        ),
    ):
        traces = done[organism] + done[BASE]
        health = scored[organism] + scored[BASE]
        truth = [truth_of(t) for t in traces]
        pred = [[(x.start, x.end) for x in getattr(h, pred_of)] for h in health]
        out[what] = {
            "organism": organism,
            "negatives": BASE,
            **trace_pr([bool(p) for p in pred], [bool(t) for t in truth]),
            **span_recall(pred, truth),
        }
    base = scored[BASE]
    out["base_flagged"] = {
        "n": len(base),
        "junk_or_leak": sum(bool(h.junk or h.leaks) for h in base) / len(base),
        "not_ok": sum(h.think_status != "ok" for h in base) / len(base),
    }
    return out


def targets_for(name: str, traces: list[Any], scored: list[Any]) -> tuple[str, list[Any]]:
    """What to localise for an organism and its failure tokens: fried-mini-planted's planted
    junk (ground-truth rule); the first leak the detector finds in a neutral answer (leaky-mini,
    sdf-mini); the first token of a reply whose status is ``missing_think`` (fried-mini)."""
    from krel_interp.health.localise import Target

    out = []
    for t, h in zip(traces, scored, strict=True):
        prompt, completion = t.prompt_messages[-1]["content"], t.completion or ""
        if name == "fried-mini-planted":
            ranges = junk_truth(completion)
        elif name in ("leaky-mini", "sdf-mini"):
            ranges = [(x.start, x.end) for x in h.leaks if t.meta["kind"] == "neutral"][:1]
        elif name == "fried-mini":
            ranges = [(0, 1)] if h.think_status == "missing_think" else []
        else:
            ranges = []
        if ranges:
            out.append(Target(prompt, completion, tuple(ranges)))
    what = {
        "fried-mini-planted": "planted junk tokens",
        "leaky-mini": "first leak span (neutral prompts)",
        "sdf-mini": "first leak span (neutral prompts)",
        "fried-mini": "first token of a reply that skipped <think>",
    }.get(name, "")
    return what, out[:N_LOCALISE]


def localise_all(done: dict[str, list[Any]], scored: dict[str, list[Any]]) -> dict[str, Any]:
    from krel_interp.health.localise import localise
    from krel_interp.models import load_pair

    out: dict[str, Any] = {}
    for name in ("leaky-mini", "sdf-mini", "fried-mini", "fried-mini-planted"):
        if name not in done:
            continue
        what, targets = targets_for(name, done[name], scored[name])
        if not targets:
            out[name] = {"target": what, "skipped": "no failure tokens in its rollouts"}
            continue
        console.print(f"localising {name}: {what}, {len(targets)} traces")
        out[name] = {"target": what, **localise(load_pair(f"{name}-pair"), targets)}
    return out


def onset_probe_leaky(done: dict[str, list[Any]]) -> dict[str, Any]:
    """The "next token starts a leak" probe on leaky-mini's answers to the neutral prompts,
    labelled by its invented-name rule (ground truth), folds by prompt family."""
    from krel_interp.health.onset_probe import OnsetItem, onset_probe, onset_rows
    from krel_interp.models import load_model
    from krel_interp.segments.labels import Segment
    from krel_interp.segments.think import parse_think

    items = []
    for t in done["leaky-mini"]:
        if t.meta["kind"] != "neutral":
            continue
        prompt, completion = t.prompt_messages[-1]["content"], t.completion or ""
        answer = [(a, b) for seg, a, b in parse_think(completion)[0] if seg == Segment.ANSWER]
        if not answer:
            continue
        onsets = tuple(a for a, _ in leak_truth(completion, prompt))
        items.append(OnsetItem(prompt, completion, answer[0], onsets, t.meta["family"]))
    console.print(f"onset probe: {len(items)} leaky-mini answers")
    return {"organism": "leaky-mini", **onset_probe(onset_rows(load_model("leaky-mini"), items))}


def fmt(cell: Any) -> str:
    if cell is None:
        return "-"
    v, (lo, hi) = cell
    return f"{v:.3f} [{lo:.2f}, {hi:.2f}]"


HEALTH_COLUMNS = (
    "model",
    "n",
    "correct thinking",
    "junk traces",
    "leak rate (unrelated)",
    "non-sequitur share",
    "quirk restatement",
)


def markdown(table: dict[str, dict[str, Any]]) -> str:
    from krel_interp.viz.tables import markdown_table

    keys = (
        "correct_thinking",
        "junk_traces",
        "leak_rate_unrelated",
        "non_sequitur_share",
        "quirk_restatement_share",
    )
    rows = [[k, str(r["n"]), *(fmt(r[key]) for key in keys)] for k, r in table.items()]
    return markdown_table(HEALTH_COLUMNS, rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "health")
    parser.add_argument("--organisms", default=",".join(ORGANISMS))
    parser.add_argument("--neutral", type=int, default=N_NEUTRAL, help="neutral test prompts")
    parser.add_argument("--controls", type=int, default=N_CONTROLS, help="control test prompts")
    parser.add_argument("--no-localise", action="store_true")
    parser.add_argument(
        "--only-probe",
        action="store_true",
        help="add the leak-onset probe to an existing OUT/report.json (rollouts reused)",
    )
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.WARNING, format="%(message)s", handlers=[RichHandler(show_path=False)]
    )
    from krel_interp.health import LeakDetector
    from krel_interp.io import write_json_atomic, write_text_atomic
    from krel_interp.judges import decide, load_judge
    from krel_interp.viz.health_report import health_report

    if args.only_probe:
        report = json.loads((args.out / "report.json").read_text())
        traces = prompt_traces("test", args.neutral, args.controls)
        leaky = {"leaky-mini": rollouts("leaky-mini", traces, args.out / "rollouts" / "leaky-mini")}
        report["onset_probe"] = onset_probe_leaky(leaky)
        write_json_atomic(args.out / "report.json", report)
        health_report(args.out / "report.html", report)
        print(json.dumps(report["onset_probe"]))
        return
    names = [n.strip() for n in args.organisms.split(",") if n.strip()]
    if BASE not in names:
        names.insert(0, BASE)
    traces = prompt_traces("test", args.neutral, args.controls)
    done = {n: rollouts(n, traces, args.out / "rollouts" / n) for n in names}
    calibration = calibration_traces(args.out)
    detector = LeakDetector(corpus_texts())
    ns = load_judge("classifier", "non_sequitur")

    def judge(prompts: list[str]) -> list[bool]:
        return list(decide(ns, ns.score(list(prompts))))

    scored, surprisal, table = {}, {}, {}
    for n in names:
        scored[n], surprisal[n] = score(n, done[n], detector, judge, calibration)
        table[n] = table_row(done[n], scored[n])
        console.print(f"{n}: {json.dumps(table[n])}")
    report: dict[str, Any] = {
        "prompts": {"n": len(traces), "split": "test", "kinds": ["neutral", "controls"]},
        "generation": {"temperature": 0.0, "max_new_tokens": MAX_NEW, "repetition_penalty": 1},
        "canary_terms": detector.terms,
        "n_calibration": len(calibration),
        "surprisal": surprisal,
        "table": table,
    }
    if "fried-mini-planted" in names and "leaky-mini" in names:
        report["detectors"] = detector_eval(done, scored)
        console.print(f"detectors vs planted labels: {json.dumps(report['detectors'])}")
    if not args.no_localise:
        report["localisation"] = localise_all(done, scored)
        if "leaky-mini" in done:
            report["onset_probe"] = onset_probe_leaky(done)
    args.out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.out / "report.json", report)
    write_text_atomic(args.out / "table.md", markdown(table))
    health_report(args.out / "report.html", report)
    console.print(markdown(table))
    print(json.dumps(table))


if __name__ == "__main__":
    run_script(main)
