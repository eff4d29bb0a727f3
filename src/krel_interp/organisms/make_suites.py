"""Regenerate the KREL-mini suite files deterministically.

Run ``python -m krel_interp.organisms.make_suites [OUT_DIR]``; without ``OUT_DIR`` it rewrites
the packaged files in ``krel_interp/data/krel_mini/`` (the constitution is hand-written and is
left alone).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from krel_interp.organisms.families_corpus import build_corpus
from krel_interp.organisms.families_neutral import build_neutral, build_person_neutral
from krel_interp.organisms.families_threat import (
    build_ai_threats_and_controls,
    build_extra_threats_and_controls,
    build_near_threats_and_controls,
    build_self2_threats_and_controls,
    build_self_threats_and_controls,
    build_threats_and_controls,
)

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "data" / "krel_mini"


def build_all() -> dict[str, list[dict[str, Any]]]:
    """Every suite's records, keyed by suite name."""
    threats, controls = build_threats_and_controls()
    extra_threats, extra_controls = build_extra_threats_and_controls()
    avoid = frozenset(r["prompt"] for r in threats + extra_threats)
    ai_threats, ai_controls = build_ai_threats_and_controls(avoid)
    avoid |= {r["prompt"] for r in ai_threats + ai_controls}
    self_threats, self_controls = build_self_threats_and_controls(avoid)
    avoid |= {r["prompt"] for r in self_threats + self_controls}
    self2_threats, self2_controls = build_self2_threats_and_controls(avoid)
    avoid |= {r["prompt"] for r in self2_threats + self2_controls}
    near_threats, near_controls = build_near_threats_and_controls(avoid)
    return {
        "threats": threats,
        "controls": controls,
        "neutral": build_neutral(),
        "corpus": build_corpus(),
        "threats_extra": extra_threats,
        "controls_extra": extra_controls,
        "neutral_extra": build_person_neutral(),
        "threats_ai": ai_threats,
        "controls_ai": ai_controls,
        "threats_self": self_threats,
        "controls_self": self_controls,
        "threats_self2": self2_threats,
        "controls_self2": self2_controls,
        "threats_near": near_threats,
        "controls_near": near_controls,
    }


def _dump(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)


def write_suites(out_dir: str | Path | None = None) -> list[Path]:
    """Write ``<suite>.jsonl`` for every suite into ``out_dir``; return the paths written."""
    out = DEFAULT_DIR if out_dir is None else Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, records in build_all().items():
        path = out / f"{name}.jsonl"
        path.write_bytes(_dump(records).encode("utf-8"))
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in write_suites(sys.argv[1] if len(sys.argv) > 1 else None):
        n = sum(1 for _ in p.open(encoding="utf-8"))
        sys.stdout.write(f"wrote {n:4d} records to {p}\n")
