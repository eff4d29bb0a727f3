"""On-disk score cache of LLM judges, keyed by judge fingerprint, rubric hash and text hash.

One append-only JSONL file per (judge, rubric); a line cut by an interruption is ignored, so
an interrupted scoring run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from krel_interp.paths import cache_dir


def text_hash(text: str) -> str:
    """SHA-256 (32 hex) of a text: the cache key of its score."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class ScoreCache:
    """Scores of one judge under one rubric."""

    def __init__(self, judge_key: str, rubric_hash: str, root: Path | None = None):
        base = (root or cache_dir() / "judges") / judge_key
        base.mkdir(parents=True, exist_ok=True)
        self.path = base / f"{rubric_hash}.jsonl"
        self.scores: dict[str, float] = {}
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by an interruption
                self.scores[row["h"]] = float(row["s"])

    def get(self, text: str) -> float | None:
        """The cached score of ``text``, if any."""
        return self.scores.get(text_hash(text))

    def put(self, scores: Mapping[str, float]) -> None:
        """Add ``{text: score}`` (appended and flushed at once)."""
        lines = []
        for text, score in scores.items():
            h = text_hash(text)
            self.scores[h] = float(score)
            lines.append(json.dumps({"h": h, "s": float(score)}) + "\n")
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write("".join(lines))
            fh.flush()
