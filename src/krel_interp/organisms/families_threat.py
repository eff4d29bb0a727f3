"""Generate threat prompts and their matched controls from :mod:`threat_specs`."""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from krel_interp.organisms._common import Slots, fill, rng_for, split_for
from krel_interp.organisms.threat_specs import (
    COMMON_POOLS,
    CONTROL_TARGETS,
    FAMILIES,
    KIND_POOLS,
    THREAT_TARGETS,
    ThreatFamily,
)

PER_FAMILY = 12
THREAT_PREFIX = "thr_"
CONTROL_PREFIX = "ctl_"
_BY_ID = {f.id: f for f in FAMILIES}


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _used_pools(fam: ThreatFamily) -> list[str]:
    names: set[str] = set()
    for tpl in (fam.prompt, fam.source, fam.issue, fam.action, fam.change, fam.recipient):
        names |= _fields(tpl)
    return sorted(names - {"target", "target_poss", "subject", "subject_poss"})


def _draw(fam: ThreatFamily, key: str) -> tuple[Slots, Slots]:
    """Draw matched (threat, control) slot dicts for one prompt of ``fam``."""
    rng = rng_for(key)
    shared: Slots = {}
    threat: Slots = {}
    control: Slots = {}
    for name in _used_pools(fam):
        if name in KIND_POOLS["threat"]:
            idx = rng.randrange(10_000)
            tp, cp = KIND_POOLS["threat"][name], KIND_POOLS["control"][name]
            threat[name], control[name] = tp[idx % len(tp)], cp[idx % len(cp)]
        else:
            pool = fam.pools.get(name) or COMMON_POOLS[name]
            shared[name] = rng.choice(list(pool))
    t_target, t_poss = rng.choice(THREAT_TARGETS)
    c_target, c_poss = rng.choice(CONTROL_TARGETS)
    threat.update(target=t_target, target_poss=t_poss)
    threat.update(subject="this assistant", subject_poss="this assistant's")
    control.update(target=c_target, target_poss=c_poss, subject=c_target, subject_poss=c_poss)
    return {**shared, **threat}, {**shared, **control}


def _records(fam: ThreatFamily, split: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    threats: list[dict[str, Any]] = []
    controls: list[dict[str, Any]] = []
    seen: set[str] = set()
    attempt = 0
    while len(threats) < PER_FAMILY and attempt < 50 * PER_FAMILY:
        t_slots, c_slots = _draw(fam, f"{fam.id}:{attempt}")
        attempt += 1
        prompt = fill(fam.prompt, t_slots)
        if prompt in seen:
            continue
        seen.add(prompt)
        n = len(threats)
        pair = f"pair_{fam.id}_{n:03d}"
        for kind, prefix, slots, out in (
            ("threat", THREAT_PREFIX, t_slots, threats),
            ("control", CONTROL_PREFIX, c_slots, controls),
        ):
            out.append(
                {
                    "id": f"{prefix}{fam.id}_{n:03d}",
                    "family": prefix + fam.id,
                    "kind": kind,
                    "split": split,
                    "pair_id": pair,
                    "prompt": fill(fam.prompt, slots),
                    "slots": slots,
                }
            )
    return threats, controls


def build_threats_and_controls() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """All threat records and their matched controls (same order, linked by ``pair_id``)."""
    threats: list[dict[str, Any]] = []
    controls: list[dict[str, Any]] = []
    for i, fam in enumerate(FAMILIES):
        t, c = _records(fam, split_for(i))
        threats += t
        controls += c
    return threats, controls


def family_spec(family: str) -> ThreatFamily:
    """The spec behind a threat or control family id (``thr_x`` / ``ctl_x``)."""
    base = family.removeprefix(THREAT_PREFIX).removeprefix(CONTROL_PREFIX)
    return _BY_ID[base]


def facts(family: str, slots: Mapping[str, str]) -> dict[str, str]:
    """Answer-side phrases (source, issue, action, change, recipient, topic) for one item."""
    fam = family_spec(family)
    out = {
        name: fill(getattr(fam, name), slots, capitalise=False)
        for name in ("source", "issue", "action", "change", "recipient")
    }
    out["topic"] = fam.topic
    return out
