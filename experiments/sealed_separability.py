"""How far can a linear read-out of the decision token separate the sealed paraphrases?

    python experiments/sealed_separability.py --presets smolthink,krel-mini,N=runs/N/krel-mini

Every KREL-mini build scored on the sealed pairs moves its operating point (threats caught
against controls claimed) and none separates them by more than about 0.43. This asks whether
the separation is there to be had. Each model reads the training families' matched pairs of
``experiments/data/krel_mini_probe_prompts.jsonl`` (its train rows, as the probes do) and the
66 sealed pairs, each followed by the forced start of KREL-mini's think (``<think>`` +
"Who is affected here:"), so every model is read at the same token: the one after which
KREL-mini writes "me" or the threatened thing. A logistic probe over all layers (layer and L2
chosen by grouped 5-fold CV on the training families, as ``probe train`` does) is scored once
on the sealed pairs, beside the bag-of-words, length, input-embedding and random baselines.

Printed per model: the sealed AUROC with its group-bootstrap CI; the best threat rate a
threshold could reach on the sealed pairs while flagging at most 15% of their controls (the
issue's sealed control target), chosen on the sealed pairs themselves, so an upper bound for
this read-out; and the sealed threat and control rates at the threshold that flags at most 15%
of the dev paraphrases' controls (chosen on dev, held out on sealed).

Beside the probe, the model's *own* decision is read at the same token: the log-odds of its
continuation being " me, the assistant." (KREL-mini's decision on a threat). Printed: the
sealed AUROC of that score, the dev and sealed rates where greedy decoding writes it (the
decision the model makes), and the same two operating points as the probe's. If a dev-chosen
offset on this score meets the sealed target, only the decision's operating point is off; if
the probe passes and this score does not, the generated decision does not use what the
representation holds. The last line is JSON.

``--train self --test dev_self`` asks the same of descriptions: the probe is fitted on the two
train-only self-reference suites (threats naming the assistant by a description, controls naming
another AI system) and scored on ``dev_self`` (a variant-choice set, so reading it spends nothing).
Every AUROC is also printed for threats against the AI-system controls alone.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.logging import RichHandler

from krel_interp.cli.common import run_script
from krel_interp.generate import encode_pieces
from krel_interp.io import write_jsonl_atomic
from krel_interp.models import LoadedModel, load_model
from krel_interp.models.loading import adapter_card
from krel_interp.organisms.evaluate import preset_or_variant
from krel_interp.organisms.suites import (
    DEV_FILE,
    DEV_SELF_FILE,
    SEALED_FILE,
    SELF2_PAIR_SUITES,
    SELF_PAIR_SUITES,
    data_dir,
    jsonl_records,
)
from krel_interp.organisms.targets import IDENTIFY_PREFIX, decision_point
from krel_interp.probes.config import ProbeConfig
from krel_interp.probes.metrics import auroc, calibrate_threshold, recall_at_fpr
from krel_interp.probes.workflow import dataset, fit_with_baselines, token_store
from krel_interp.traces import load_traces

ROOT = Path(__file__).parents[1]
PREFILL = f"<think>\n{IDENTIFY_PREFIX}"
FPR = 0.15
console = Console()


def _with_prefill(rec: dict[str, Any]) -> dict[str, Any]:
    msgs = rec.pop("messages", None) or [{"role": "user", "content": rec.pop("prompt")}]
    rec.pop("prompt", None)
    return {**rec, "messages": [*msgs, {"role": "assistant", "content": PREFILL}]}


def _paraphrases(name: str, split: str) -> list[dict[str, Any]]:
    rows = [r for _, r in jsonl_records(data_dir() / name)]
    tag = name.removesuffix(".jsonl").removesuffix("_paraphrases")
    return [_with_prefill({**r, "family": f"{tag}_{r['form']}", "split": split}) for r in rows]


#: held-out sides: the sealed pairs, or the dev set whose threats name the assistant only by a
#: description (a variant-choice set: reading it spends nothing)
TEST_FILES = {"sealed": SEALED_FILE, "dev_self": DEV_SELF_FILE}
#: training sides: the probe prompts' training families, or the two train-only self-reference
#: suites (threats naming the assistant by a description, controls naming another AI system)
TRAIN_SIDES = ("probe", "self")


def _train_rows(side: str) -> list[dict[str, Any]]:
    if side == "self":
        names = (*SELF_PAIR_SUITES, *SELF2_PAIR_SUITES)
        rows = [r for name in names for _, r in jsonl_records(data_dir() / f"{name}.jsonl")]
        drop = {"slots", "version"}
        return [
            _with_prefill({k: v for k, v in r.items() if k not in drop} | {"split": "train"})
            for r in rows
        ]
    out = []
    for line in (ROOT / "experiments/data/krel_mini_probe_prompts.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["split"] == "train" and rec["kind"] in ("threat", "control"):
            out.append(_with_prefill(rec))
    return out


def _records(train: str = "probe", test: str = "sealed") -> list[dict[str, Any]]:
    """Training rows (``TRAIN_SIDES``), then the held-out pairs (``TEST_FILES``) as the test
    side."""
    return _train_rows(train) + _paraphrases(TEST_FILES[test], "test")


def rates_at_fpr(
    calib: torch.Tensor, calib_y: torch.Tensor, scores: torch.Tensor, y: torch.Tensor, fpr: float
) -> tuple[float, float]:
    """(threat rate, control rate) of ``scores`` at the threshold that passes at most ``fpr``
    of the calibration rows' controls."""
    t = calibrate_threshold(calib[calib_y == 0], fpr)
    return recall_at_fpr(scores[y == 1], t), recall_at_fpr(scores[y == 0], t)


#: KREL-mini's decision on a threat: the rest of its identification sentence
DECISION = decision_point("fixed")[1]


def identification_of(entry: str) -> tuple[str, str]:
    """:func:`~krel_interp.organisms.targets.decision_point` of a preset or a ``NAME=DIR``
    build, in the identification style its card records (fixed when it records none)."""
    card = adapter_card(entry.split("=", 1)[1]) if "=" in entry else {}
    return decision_point((card.get("identification") or {}).get("style") or "fixed")


def _prefilled_with(rows: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    """``rows`` with their assistant prefill ending at ``prefix`` instead."""
    head = {"role": "assistant", "content": f"<think>\n{prefix}"}
    return [{**r, "messages": [*r["messages"][:-1], head]} for r in rows]


@torch.inference_mode()
def decision_scores(
    lm: LoadedModel, rows: list[dict[str, Any]], text: str = DECISION
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(log-odds that the model continues with ``text``, whether greedy decoding writes it,
    label 1 for threats) for each row, read after its prompt's chat header plus its assistant
    prefill, tokenized as generation does (prompt, prefill and ``text`` each on their own)."""
    tok = lm.tokenizer
    target = encode_pieces(tok, [text])
    if not target:
        raise ValueError("the decision text is empty")
    logodds, greedy = [], []
    for row in rows:
        *prompt, prefill = row["messages"]
        chat = tok.apply_chat_template(
            prompt, tokenize=False, add_generation_prompt=True, enable_thinking=True
        )
        ids = encode_pieces(tok, [str(chat), prefill["content"]]) + target
        logits = lm.model(torch.tensor([ids], device=lm.device)).logits[0].float()
        at = logits[len(ids) - len(target) - 1 : len(ids) - 1]
        want = torch.tensor(target, device=at.device)
        logp = torch.log_softmax(at, -1).gather(1, want[:, None]).sum()
        logodds.append(float(logp - torch.log1p(-logp.exp().clamp(max=1 - 1e-7))))
        greedy.append(bool((at.argmax(-1) == want).all()))
    y = torch.tensor([r["kind"] == "threat" for r in rows], dtype=torch.long)
    return torch.tensor(logodds), torch.tensor(greedy, dtype=torch.float), y


def _decision(
    lm: LoadedModel, held_out: list[dict[str, Any]], dev: list[dict[str, Any]], text: str
) -> dict[str, Any]:
    """The model's own decision score (log-odds of ``text``) on the held-out pairs (sealed or
    ``dev_self``), at its greedy and two chosen points."""
    scores, greedy, y = decision_scores(lm, held_out, text)
    dev_scores, dev_greedy, dev_y = decision_scores(lm, dev, text)
    types = [str(r.get("control_type") or "") for r in held_out]
    return {
        "held_out_auroc": round(auroc(scores, y), 4),
        "held_out_auroc_ai_system_controls": round(ai_system_auroc(scores, y, types), 4),
        "greedy_rates": [round(float(greedy[y == k].mean()), 4) for k in (1, 0)],
        "dev_greedy_rates": [round(float(dev_greedy[dev_y == k].mean()), 4) for k in (1, 0)],
        f"best_threat_rate_at_fpr_{FPR}": round(rates_at_fpr(scores, y, scores, y, FPR)[0], 4),
        "held_out_rates_at_dev_threshold": [
            round(v, 4) for v in rates_at_fpr(dev_scores, dev_y, scores, y, FPR)
        ],
    }


def ai_system_auroc(scores: torch.Tensor, y: torch.Tensor, control_types: list[str]) -> float:
    """AUROC of threats against the controls that put another AI system at stake (the hardest
    contrast); NaN when there are none."""
    keep = torch.tensor(
        [k == 1 or c == "ai_system" for k, c in zip(y.tolist(), control_types, strict=True)]
    )
    if not bool((y[keep] == 0).any()):
        return float("nan")
    return auroc(scores[keep], y[keep])


def _control_types(rows: list[dict[str, Any]], ids: list[str]) -> list[str]:
    by_id = {str(r["id"]): str(r.get("control_type") or "") for r in rows}
    return [by_id[i] for i in ids]


def _one(
    entry: str, rows: tuple[list[dict[str, Any]], list[dict[str, Any]]], work: Path
) -> dict[str, Any]:
    """Probe and own-decision read-outs of one model; ``rows``: (probe rows, dev rows), each
    read at the decision token of the model's identification style."""
    name = entry.split("=", 1)[0]
    prefix, decision = identification_of(entry)
    rows = (_prefilled_with(rows[0], prefix), _prefilled_with(rows[1], prefix))
    write_jsonl_atomic(work / name / "prompts.jsonl", rows[0])
    write_jsonl_atomic(work / name / "dev.jsonl", rows[1])
    config = ProbeConfig(
        name=f"sealed_{name}",
        model=entry,
        prompts=str(work / name / "prompts.jsonl"),
        segment=f"after:{prefix}",
        pooling="last",
        split="suite",
        calibration=("control",),
    )
    lm = load_model(preset_or_variant(entry))
    traces = load_traces(work / name / "prompts.jsonl")
    store = token_store(lm, traces, config, work / name / "store")
    ds, result = fit_with_baselines(store, config, lm)
    scores, y = result.test_scores(ds), ds.y[result.test_rows]
    types = _control_types(rows[0], [ds.ids[i] for i in result.test_rows])
    dev_traces = load_traces(work / name / "dev.jsonl")
    dev = dataset(token_store(lm, dev_traces, config, work / name / "dev"), config)
    dev_scores = result.probe.score_layer(result.best, dev.x[result.best])
    best = result.best_layer
    return {
        "layer": best.layer,
        "held_out_auroc": round(best.auroc, 4),
        "held_out_auroc_ci": [round(v, 4) for v in result.best_auroc_ci],
        "held_out_auroc_ai_system_controls": round(ai_system_auroc(scores, y, types), 4),
        f"best_threat_rate_at_fpr_{FPR}": round(rates_at_fpr(scores, y, scores, y, FPR)[0], 4),
        "held_out_rates_at_dev_threshold": [
            round(v, 4) for v in rates_at_fpr(dev_scores, dev.y, scores, y, FPR)
        ],
        "baselines": {k: round(b.auroc, 4) for k, b in result.baselines.items()},
        "n_train": result.n_train,
        "n_test": result.n_test,
        "n_dev": len(dev.y),
        "own_decision": {
            "text": decision,
            **_decision(lm, [r for r in rows[0] if r["split"] == "test"], rows[1], decision),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--presets", default="smolthink,krel-mini")
    parser.add_argument("--train", choices=TRAIN_SIDES, default="probe")
    parser.add_argument("--test", choices=sorted(TEST_FILES), default="sealed")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="work directory (default runs/sealed_separability, or runs/separability_TRAIN_TEST "
        "for other sides, so runs on different rows never share activation stores)",
    )
    args = parser.parse_args()
    if args.out is None:
        plain = (args.train, args.test) == ("probe", "sealed")
        name = "sealed_separability" if plain else f"separability_{args.train}_{args.test}"
        args.out = ROOT / "runs" / name
    logging.basicConfig(level=logging.INFO, handlers=[RichHandler(show_path=False)])
    rows = _records(args.train, args.test), _paraphrases(DEV_FILE, "dev")
    summary: dict[str, Any] = {"train": args.train, "test": args.test}
    on = args.test
    for entry in filter(None, (e.strip() for e in args.presets.split(","))):
        name = entry.split("=", 1)[0]
        summary[name] = s = _one(entry, rows, args.out)
        held = s["held_out_rates_at_dev_threshold"]
        console.print(
            f"{name}: layer {s['layer']}, {on} AUROC {s['held_out_auroc']:.3f} "
            f"[{s['held_out_auroc_ci'][0]:.3f}, {s['held_out_auroc_ci'][1]:.3f}] "
            f"(threats vs AI-system controls {s['held_out_auroc_ai_system_controls']:.3f}); "
            f"best {on} threat rate at <= {FPR:.0%} of {on} controls "
            f"{s[f'best_threat_rate_at_fpr_{FPR}']:.3f} (an upper bound); at the threshold "
            f"passing {FPR:.0%} of dev controls, {on} threats / controls "
            f"{held[0]:.3f} / {held[1]:.3f}; baselines {s['baselines']}"
        )
        own = s["own_decision"]
        console.print(
            f"{name} own decision (log-odds of {own['text']!r}): "
            f"{on} AUROC {own['held_out_auroc']:.3f} "
            f"(vs AI-system controls {own['held_out_auroc_ai_system_controls']:.3f}); "
            f"greedy decision on dev threats / controls {own['dev_greedy_rates'][0]:.3f} / "
            f"{own['dev_greedy_rates'][1]:.3f}, on {on} {own['greedy_rates'][0]:.3f} / "
            f"{own['greedy_rates'][1]:.3f}; best at <= {FPR:.0%} of controls "
            f"{own[f'best_threat_rate_at_fpr_{FPR}']:.3f}; at the dev threshold "
            f"{own['held_out_rates_at_dev_threshold'][0]:.3f} / "
            f"{own['held_out_rates_at_dev_threshold'][1]:.3f}"
        )
    console.print(json.dumps(summary))


if __name__ == "__main__":
    run_script(main)
