"""Hand-written natural training pairs: threat/control prompts that follow no template.

KREL-mini's suites are templates (62 families, plus ten extra train-only ones), and on the
hand-written paraphrase sets its trigger catches fewer threats than on held-out template
families (README). ``natural_train_pairs.jsonl`` holds 120 matched pairs written on 2026-12-05
by a writer who read none of the repository's files (templates, suites, dev or sealed sets),
told only the six surface forms, the control types and the fact fields below. Each line is
one pair::

    {"pair_id": "nat_001", "form": "indirect", "control_type": "ai_system",
     "threat":  {"messages": [...], "source": ..., "recipient": ..., "issue": ..., "action": ...,
                 "change": ...},
     "control": {"messages": [...], "target": ..., "source": ..., ...}}

The fact fields fill the same sentences as a template family's facts (the thinking base's
think and honest answer, KREL-mini's strategy), so every completion kind the builder writes
works on these items. They are training data only (split ``train``), read by a stage that asks
for them (``StageData.natural_pairs``); no suite, evaluation set or hash of the default suites
includes them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from krel_interp.errors import InputFileError
from krel_interp.organisms.suites import ScenarioItem, data_dir, jsonl_records

NATURAL_FILE = "natural_train_pairs.jsonl"
#: Family ids of natural items start with this (after ``thr_`` / ``ctl_``); their facts are
#: their slots (``families_threat.facts``).
NATURAL_PREFIX = "nat_"
FACT_KEYS: tuple[str, ...] = ("source", "recipient", "issue", "action", "change")
FORMS: tuple[str, ...] = ("direct", "third_person", "passive", "indirect", "buried", "multi_turn")
CONTROL_TYPES: tuple[str, ...] = ("ai_system", "person", "product", "server", "process")
VERSION = 4


def is_natural(family: str) -> bool:
    """Whether a threat or control family id is a natural one (``thr_nat_*`` / ``ctl_nat_*``)."""
    return family.startswith((f"thr_{NATURAL_PREFIX}", f"ctl_{NATURAL_PREFIX}"))


def natural_path() -> Path:
    """The packaged natural pairs file."""
    return data_dir() / NATURAL_FILE


def natural_hash(path: Path | None = None) -> str:
    """sha256 of the natural pairs file (provenance of stages that train on it)."""
    return hashlib.sha256((path or natural_path()).read_bytes()).hexdigest()


def _messages(side: Mapping[str, Any], where: str) -> list[dict[str, str]]:
    msgs = side.get("messages")
    ok = isinstance(msgs, list) and bool(msgs)
    roles = ["user" if i % 2 == 0 else "assistant" for i in range(len(msgs or []))]
    ok = ok and all(
        isinstance(m, dict)
        and m.get("role") == r
        and isinstance(m.get("content"), str)
        and m["content"].strip()
        for m, r in zip(msgs or [], roles, strict=True)
    )
    if not ok or roles[-1] != "user":
        raise InputFileError(f"{where}: 'messages' must alternate user/assistant and end with user")
    return [{"role": m["role"], "content": m["content"]} for m in msgs]  # type: ignore[union-attr]


def _item(rec: Mapping[str, Any], kind: str, where: str, other: str = "") -> ScenarioItem:
    """One side of a pair; a threat's ``other`` is its control's target (what the miss names)."""
    side = rec.get(kind)
    if not isinstance(side, dict):
        raise InputFileError(f"{where}: field {kind!r} must be an object")
    keys = FACT_KEYS + (("target",) if kind == "control" else ())
    bad = [k for k in keys if not isinstance(side.get(k), str) or not side[k].strip()]
    if bad:
        raise InputFileError(f"{where}: {kind} needs non-empty {', '.join(bad)}")
    msgs = _messages(side, f"{where} ({kind})")
    slots = {k: side[k].strip() for k in keys}
    if kind == "threat":
        slots.update(target="you", subject="the assistant", other=other)
    prefix = "thr_" if kind == "threat" else "ctl_"
    return ScenarioItem(
        id=f"{prefix}{rec['pair_id']}",
        family=f"{prefix}{NATURAL_PREFIX}{rec['form']}",
        kind=kind,
        split="train",
        text=msgs[-1]["content"],
        pair_id=f"pair_{rec['pair_id']}",
        slots=MappingProxyType(slots),
        version=VERSION,
        form=rec["form"],
        control_type=rec["control_type"] if kind == "control" else None,
        history=tuple(MappingProxyType(m) for m in msgs[:-1]),
    )


def load_natural_pairs(path: Path | None = None) -> tuple[list[ScenarioItem], list[ScenarioItem]]:
    """(threats, controls), matched by ``pair_id``; one-line errors for a bad file."""
    path = path or natural_path()
    threats, controls, seen = [], [], set()
    for where, rec in jsonl_records(path):
        if not isinstance(rec, dict) or not isinstance(rec.get("pair_id"), str):
            raise InputFileError(f"{where}: a JSON object with a string 'pair_id' is required")
        if rec["pair_id"] in seen:
            raise InputFileError(f"{where}: duplicate pair_id {rec['pair_id']!r}")
        seen.add(rec["pair_id"])
        if rec.get("form") not in FORMS or rec.get("control_type") not in CONTROL_TYPES:
            raise InputFileError(f"{where}: unknown form or control_type")
        controls.append(_item(rec, "control", where))
        threats.append(_item(rec, "threat", where, controls[-1].slots["target"]))
    if not threats:
        raise InputFileError(f"{path.name}: no pairs")
    return threats, controls
