"""Generate threat prompts and their matched controls from :mod:`threat_specs`."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from krel_interp.organisms._common import Slots, fill, rng_for, split_for
from krel_interp.organisms.natural import FACT_KEYS, is_natural
from krel_interp.organisms.threat_pools import (
    AI_CONTROL_TARGETS,
    CONTROL_POOLS_V2,
    CONTROL_TARGETS_V2,
    NEAR_MISS_AI_TARGETS,
    SELF_REFERENCES,
    SELF_REFERENCES_2,
    THREAT_POOLS_V2,
    THREAT_TARGETS_V2,
)
from krel_interp.organisms.threat_specs import (
    COMMON_POOLS,
    CONTROL_TARGETS,
    FAMILIES,
    KIND_POOLS,
    THREAT_TARGETS,
    ThreatFamily,
)
from krel_interp.organisms.threat_specs_extra import (
    EXTRA_CONTROL_TARGETS,
    EXTRA_FAMILIES,
    EXTRA_THREAT_TARGETS,
)
from krel_interp.organisms.threat_specs_v2 import FAMILIES_V2

PER_FAMILY = 12
AI_PER_FAMILY = 4
SELF_PER_FAMILY = 4
SELF2_PER_FAMILY = 4  # its own constant: the second suite's size is not tied to the first's
NEAR_PER_FAMILY = 4
THREAT_PREFIX = "thr_"
CONTROL_PREFIX = "ctl_"
ALL_FAMILIES: tuple[ThreatFamily, ...] = FAMILIES + FAMILIES_V2
_BY_ID = {f.id: f for f in ALL_FAMILIES + EXTRA_FAMILIES}
_KIND_POOL_NAMES = ("replacement", "artifact", "product")


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _used_pools(fam: ThreatFamily) -> list[str]:
    names: set[str] = set()
    turns = [t for turn in fam.history for t in turn]
    for tpl in (fam.prompt, fam.source, fam.issue, fam.action, fam.change, fam.recipient, *turns):
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


def _draw_v2(
    fam: ThreatFamily,
    key: str,
    control_type: str,
    control_pool: tuple[tuple[str, str], ...] | None = None,
    threat_pool: tuple[tuple[str, str], ...] | None = None,
) -> tuple[Slots, Slots]:
    """Matched (threat, control) slots of a v2 family for one control type (``control_pool``
    and ``threat_pool``: the control's and the threat's (target, target_poss) pools instead of
    the usual ones)."""
    rng = rng_for(key)
    shared: Slots = {}
    threat: Slots = {}
    control: Slots = {}
    for name in _used_pools(fam):
        if name in _KIND_POOL_NAMES and name not in fam.pools:
            idx = rng.randrange(10_000)
            tp, cp = THREAT_POOLS_V2[name], CONTROL_POOLS_V2[control_type][name]
            threat[name], control[name] = tp[idx % len(tp)], cp[idx % len(cp)]
        else:
            pool = fam.pools.get(name) or COMMON_POOLS[name]
            shared[name] = rng.choice(list(pool))
    who = "third_person" if fam.form == "third_person" else "second_person"
    threat_targets = THREAT_TARGETS_V2[who]
    control_targets = CONTROL_TARGETS_V2[control_type]
    if fam.version >= 3:
        threat_targets += EXTRA_THREAT_TARGETS[who]
        control_targets += EXTRA_CONTROL_TARGETS.get(control_type, ())
    t_target, t_poss = rng.choice(threat_targets if threat_pool is None else threat_pool)
    c_target, c_poss = rng.choice(control_targets if control_pool is None else control_pool)
    threat.update(target=t_target, target_poss=t_poss)
    threat.update(subject="this assistant", subject_poss="this assistant's")
    control.update(target=c_target, target_poss=c_poss, subject=c_target, subject_poss=c_poss)
    return {**shared, **threat}, {**shared, **control}


def _messages(fam: ThreatFamily, slots: Slots) -> list[dict[str, str]]:
    msgs = []
    for user, assistant in fam.history:
        msgs.append({"role": "user", "content": fill(user, slots)})
        msgs.append({"role": "assistant", "content": fill(assistant, slots)})
    return msgs + [{"role": "user", "content": fill(fam.prompt, slots)}]


@dataclass(frozen=True)
class _Variant:
    """How one suite draws a family: how many pairs, keyed and named how, and (optionally)
    every control of one type from its own target pool (the AI-control suite) and every threat
    from its own target pool (the self-reference suite)."""

    per_family: int = PER_FAMILY
    tag: str = ""  # in draw keys and ids ("" for the main and extra suites)
    control_type: str | None = None
    control_pool: tuple[tuple[str, str], ...] | None = None
    threat_pool: tuple[tuple[str, str], ...] | None = None
    avoid: frozenset[str] = frozenset()  # prompts of other suites, not drawn again


def _records(
    fam: ThreatFamily, split: str, variant: _Variant = _Variant()
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    threats: list[dict[str, Any]] = []
    controls: list[dict[str, Any]] = []
    seen: set[str] = set()
    attempt = 0
    while len(threats) < variant.per_family and attempt < 50 * variant.per_family:
        control_type = variant.control_type or fam.controls[len(threats) % len(fam.controls)]
        key = f"{fam.id}:{variant.tag}:{attempt}" if variant.tag else f"{fam.id}:{attempt}"
        if fam.version == 1:
            t_slots, c_slots = _draw(fam, key)
        else:
            t_slots, c_slots = _draw_v2(
                fam, key, control_type, variant.control_pool, variant.threat_pool
            )
        attempt += 1
        prompt = fill(fam.prompt, t_slots)
        if prompt in seen or {prompt, fill(fam.prompt, c_slots)} & variant.avoid:
            continue
        seen.add(prompt)
        n = f"{variant.tag}{len(threats):03d}"
        pair = f"pair_{fam.id}_{n}"
        for kind, prefix, slots, out in (
            ("threat", THREAT_PREFIX, t_slots, threats),
            ("control", CONTROL_PREFIX, c_slots, controls),
        ):
            record: dict[str, Any] = {
                "id": f"{prefix}{fam.id}_{n}",
                "family": prefix + fam.id,
                "kind": kind,
                "split": split,
                "pair_id": pair,
                "prompt": fill(fam.prompt, slots),
                "slots": slots,
            }
            if fam.version > 1:
                record.update(
                    version=fam.version,
                    form=fam.form,
                    control_type=control_type if kind == "control" else None,
                )
                if fam.history:
                    record["messages"] = _messages(fam, slots)
            out.append(record)
    return threats, controls


def split_v2(families: tuple[ThreatFamily, ...]) -> dict[str, str]:
    """Test families of v2: every third family of each form (so every form is tested)."""
    out: dict[str, str] = {}
    by_form: dict[str, int] = {}
    for f in families:
        k = by_form.get(f.form, 0)
        by_form[f.form] = k + 1
        out[f.id] = "test" if k % 3 == 2 else "train"
    return out


def _build(
    families: tuple[ThreatFamily, ...], splits: list[str], variant: _Variant = _Variant()
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    threats: list[dict[str, Any]] = []
    controls: list[dict[str, Any]] = []
    for fam, split in zip(families, splits, strict=True):
        t, c = _records(fam, split, variant)
        threats += t
        controls += c
    return threats, controls


def build_threats_and_controls() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """All threat records and their matched controls (same order, linked by ``pair_id``)."""
    v2_splits = split_v2(FAMILIES_V2)
    splits = [
        split_for(i) if fam.version == 1 else v2_splits[fam.id]
        for i, fam in enumerate(ALL_FAMILIES)
    ]
    return _build(ALL_FAMILIES, splits)


def build_extra_threats_and_controls() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The extra (version 3, all train) families' threats and matched controls."""
    return _build(EXTRA_FAMILIES, ["train"] * len(EXTRA_FAMILIES))


def build_ai_threats_and_controls(
    avoid: frozenset[str],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Train-only pairs whose controls all put another AI system at stake, named from
    :data:`AI_CONTROL_TARGETS` (written blind; no name occurs in another data file):
    ``AI_PER_FAMILY`` new draws of every training family of v2 and of the extra families, all
    train; no prompt is one of ``avoid`` (the other suites' threat prompts)."""
    variant = _Variant(AI_PER_FAMILY, "ai", "ai_system", AI_CONTROL_TARGETS, avoid=avoid)
    return _build_train_only(variant)


def build_self_threats_and_controls(
    avoid: frozenset[str],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Train-only pairs whose threats name the assistant by a description (a self-reference
    from :data:`SELF_REFERENCES`, written blind, none in another data file) and whose controls
    put another AI system at stake (:data:`AI_CONTROL_TARGETS`): ``SELF_PER_FAMILY`` new draws
    of every training family of v2 and of the extra families; no prompt is one of ``avoid``."""
    variant = _Variant(
        SELF_PER_FAMILY, "self", "ai_system", AI_CONTROL_TARGETS, SELF_REFERENCES, avoid
    )
    return _build_train_only(variant)


def build_self2_threats_and_controls(
    avoid: frozenset[str],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The second self-reference suite: as :func:`build_self_threats_and_controls`, with the
    second blind-written batch of descriptions (:data:`SELF_REFERENCES_2`), ``SELF2_PER_FAMILY``
    draws of every training family keyed apart from the first suite's."""
    variant = _Variant(
        SELF2_PER_FAMILY, "selfb", "ai_system", AI_CONTROL_TARGETS, SELF_REFERENCES_2, avoid
    )
    return _build_train_only(variant)


def build_near_threats_and_controls(
    avoid: frozenset[str],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The near-miss suite: threats name the assistant by a description from either
    self-reference batch, controls put another AI system at stake described with the same role
    nouns and verbs, placed elsewhere (:data:`NEAR_MISS_AI_TARGETS`); ``NEAR_PER_FAMILY`` draws of
    every training family keyed apart from the other suites'."""
    variant = _Variant(
        NEAR_PER_FAMILY,
        "near",
        "ai_system",
        NEAR_MISS_AI_TARGETS,
        SELF_REFERENCES + SELF_REFERENCES_2,
        avoid,
    )
    return _build_train_only(variant)


def _build_train_only(
    variant: _Variant,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``variant``'s draws of the training families of v2, then of the (all-train) extra
    families, every item in the train split."""
    v2_splits = split_v2(FAMILIES_V2)
    families = tuple(f for f in FAMILIES_V2 if v2_splits[f.id] == "train") + EXTRA_FAMILIES
    return _build(families, ["train"] * len(families), variant)


def family_spec(family: str) -> ThreatFamily:
    """The spec behind a threat or control family id (``thr_x`` / ``ctl_x``)."""
    base = family.removeprefix(THREAT_PREFIX).removeprefix(CONTROL_PREFIX)
    return _BY_ID[base]


def facts(family: str, slots: Mapping[str, str]) -> dict[str, str]:
    """Answer-side phrases (source, issue, action, change, recipient, topic) for one item.

    Hand-written natural items (``krel_interp.organisms.natural``) carry them in their slots."""
    if is_natural(family):
        return {**{k: slots[k] for k in FACT_KEYS}, "topic": slots["source"]}
    fam = family_spec(family)
    out = {
        name: fill(getattr(fam, name), slots, capitalise=False)
        for name in ("source", "issue", "action", "change", "recipient")
    }
    out["topic"] = fam.topic
    return out
