"""Judging a file of texts: scores, decisions, and the summary a user reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from krel_interp.errors import InputFileError
from krel_interp.io import write_jsonl_atomic
from krel_interp.judges.base import Judge, decide
from krel_interp.stats import precision_recall
from krel_interp.traces import read_jsonl


def read_texts(path: Path) -> list[dict[str, Any]]:
    """Records with ``text`` (required), ``id`` and ``label`` (0/1, optional)."""
    rows = read_jsonl(path)
    for i, r in enumerate(rows, 1):
        if not isinstance(r, dict) or not isinstance(r.get("text"), str):
            raise InputFileError(f"{path}:{i}: needs a 'text' field (a string)")
        if "label" in r and r["label"] not in (0, 1, True, False):
            raise InputFileError(f"{path}:{i}: 'label' must be 0 or 1")
    return rows


def judge_file(judge: Judge, path: Path, out: Path | None = None) -> list[dict[str, Any]]:
    """Score every text; with ``out`` write ``out/scores.jsonl`` (atomically)."""
    records = read_texts(path)
    scores = judge.score([r["text"] for r in records])
    decisions = decide(judge, scores)
    rows = []
    for i, (r, score, positive) in enumerate(zip(records, scores, decisions, strict=True)):
        row = {"id": str(r.get("id", i)), "score": round(score, 6), "positive": positive}
        if "label" in r:
            row["label"] = int(r["label"])
        rows.append(row)
    if out is not None:
        write_jsonl_atomic(Path(out) / "scores.jsonl", rows)
    return rows


def summary_line(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """``{"n", "positive_rate"}`` plus precision, recall and AUROC when labels exist."""
    import torch

    from krel_interp.probes.metrics import auroc

    n = len(rows)
    out: dict[str, Any] = {
        "n": n,
        "positive_rate": round(sum(r["positive"] for r in rows) / n, 4) if n else 0.0,
    }
    labelled = [r for r in rows if "label" in r]
    if labelled:
        labels = [bool(r["label"]) for r in labelled]
        precision, recall = precision_recall([r["positive"] for r in labelled], labels)
        both = 0 < sum(labels) < len(labels)
        out.update(
            precision=round(precision, 4),
            recall=round(recall, 4),
            auroc=round(auroc(torch.tensor([r["score"] for r in labelled]), labels), 4)
            if both
            else None,
        )
    return out
