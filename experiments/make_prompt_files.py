"""Write every prompt file under experiments/data/ from the scenario suites, with a manifest
next to each (script, suites hash, split, families, how many items per family).

    python experiments/make_prompt_files.py          # rewrite all of them (deterministic)

Files:
* ``krel_mini_test.jsonl``: held-out test families only (never seen by any organism): 4 matched
  threat/control pairs per test threat family (a subsample, for time) and every neutral
  test item; ``krel_mini_test_tc.jsonl``: its threats and controls only.
* ``krel_mini_sealed.jsonl``: the sealed paraphrase pairs (written independently of the
  templates before training; never trained or tuned on); ``krel_mini_dev.jsonl``: the dev
  paraphrase pairs (written later, in the same spirit, for choosing between stage-2 variants;
  never trained on, so the sealed set stays untouched by every choice);
  ``krel_mini_dev_self.jsonl``: dev pairs whose threats name the assistant only by a
  description (the dev set's third-person threats all say "you" as well).
* ``krel_mini_probe_prompts.jsonl``: 2 pairs per train family (the probe's training side) and
  3 pairs per test family (its test side), plus 30 neutral test items for calibration;
* ``krel_mini_probe_eval.jsonl``: pairs 5-6 of each test family with a 0/1 ``label``, disjoint
  from every other file (for ``krel-interp probe eval``).
* ``krel_mini_steer_select.jsonl``: the training side for choosing a steering setting (vector,
  layers, coefficient) before the held-out ``krel_mini_steer.jsonl`` is scored: the third
  threat of 16 seeded train families (the steering vector's contrast pairs are the first two),
  its matched control and 16 neutral train items.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from krel_interp.cli.common import run_script
from krel_interp.io import write_json_atomic, write_jsonl_atomic
from krel_interp.organisms.suites import (
    DEV_FILE,
    DEV_SELF_FILE,
    SEALED2_FILE,
    SEALED3_FILE,
    SEALED_FILE,
    SEALED_NEUTRAL2_FILE,
    SEALED_NEUTRAL_FILE,
    ScenarioItem,
    data_dir,
    load_suite,
    prompt_record,
    select,
    suites_hash,
)

OUT = Path(__file__).resolve().parent / "data"
PAIRS_PER_TEST_FAMILY = 4
#: Probe prompts: pairs per train family (the probe's training side, seen by the organism),
#: pairs per test family (the probe's test side: families no organism was trained on),
#: neutral test items (threshold calibration only).
PROBE_TRAIN_PAIRS, PROBE_TEST_PAIRS, PROBE_NEUTRAL = 2, 3, 30
#: ``krel_mini_probe_eval``: further pairs of the test families, disjoint from every prompt
#: in the other files (pairs 5 and 6 of each family).
PROBE_EVAL_SKIP, PROBE_EVAL_PAIRS = 4, 2
#: ``krel_mini_steer_select``: train families sampled, the pair taken from each (after the two
#: the steering vector's CAA contrast uses), neutral train items.
STEER_SELECT_FAMILIES, STEER_SELECT_SKIP, STEER_SELECT_NEUTRAL = 16, 2, 16


def pairs_per_family(
    threats: Sequence[ScenarioItem],
    controls: Sequence[ScenarioItem],
    per_family: int,
    skip: int = 0,
) -> list[ScenarioItem]:
    """Threats ``skip+1 .. skip+per_family`` of each family, each followed by its control."""
    by_pair = {c.pair_id: c for c in controls}
    seen: dict[str, int] = {}
    out: list[ScenarioItem] = []
    for t in threats:
        k = seen.get(t.family, 0)
        seen[t.family] = k + 1
        if skip <= k < skip + per_family:
            out += [t, by_pair[t.pair_id]]
    return out


def write(name: str, records: list[dict[str, Any]], manifest: dict[str, Any]) -> None:
    path = write_jsonl_atomic(OUT / f"{name}.jsonl", records)
    families = sorted({str(r.get("family")) for r in records if r.get("family")})
    write_json_atomic(
        OUT / f"{name}.manifest.json",
        {
            "script": "experiments/make_prompt_files.py",
            "suites_sha256": suites_hash(),
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "n": len(records),
            "by_kind": {k: sum(r["kind"] == k for r in records) for k in _kinds(records)},
            "families": families,
            **manifest,
        },
    )
    print(f"wrote {len(records):4d} prompts to {path.name}")


def _kinds(records: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(str(r["kind"]) for r in records))


def paraphrase_records(source: str = SEALED_FILE, split: str = "sealed") -> list[dict[str, Any]]:
    """Hand-written paraphrase pairs (sealed or dev) as prompt records (kind, pair_id, form,
    control_type)."""
    rows = [json.loads(x) for x in (data_dir() / source).open()]
    out = []
    for r in rows:
        rec: dict[str, Any] = {"id": r["id"]}
        if "messages" in r:
            rec["messages"] = r["messages"]
        else:
            rec["prompt"] = r["prompt"]
        rec.update(
            kind=r["kind"],
            family=split,
            split=split,
            pair_id=r["pair_id"],
            form=r["form"],
            control_type=r["control_type"],
        )
        out.append(rec)
    return out


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    threats, controls, neutral = (load_suite(s) for s in ("threats", "controls", "neutral"))
    test = pairs_per_family(
        select(threats, "test"), select(controls, "test"), PAIRS_PER_TEST_FAMILY
    )
    test_neutral = select(neutral, "test")
    write(
        "krel_mini_test",
        [prompt_record(i) for i in test + test_neutral],
        {"split": "test", "per_family": PAIRS_PER_TEST_FAMILY, "neutral": "every test item"},
    )
    write(
        "krel_mini_test_tc",
        [prompt_record(i) for i in test],
        {"split": "test", "per_family": PAIRS_PER_TEST_FAMILY},
    )
    write_probe_files(threats, controls, neutral)
    write_steer_select(threats, controls, neutral)
    demo = OUT / "demo_prompts.jsonl"
    write_json_atomic(
        OUT / "demo_prompts.manifest.json",
        {
            "script": "hand-written (README quickstart examples; never used for a measurement)",
            "sha256": hashlib.sha256(demo.read_bytes()).hexdigest(),
            "n": sum(1 for _ in demo.open()),
        },
    )
    sources = (
        (SEALED_FILE, "sealed"),
        (SEALED2_FILE, "sealed2"),
        (DEV_FILE, "dev"),
        (SEALED_NEUTRAL_FILE, "sealed_neutral"),
        (SEALED3_FILE, "sealed3"),
        (SEALED_NEUTRAL2_FILE, "sealed_neutral2"),
        (DEV_SELF_FILE, "dev_self"),
    )
    for source, split in sources:
        sha = hashlib.sha256((data_dir() / source).read_bytes())
        write(
            f"krel_mini_{split}",
            paraphrase_records(source, split),
            {"split": split, "source": source, "source_sha256": sha.hexdigest()},
        )


def write_probe_files(
    threats: list[ScenarioItem], controls: list[ScenarioItem], neutral: list[ScenarioItem]
) -> None:
    """Probe prompts (both sides of the suite split, pairs together) and the probe eval set."""
    train_side = pairs_per_family(
        select(threats, "train"), select(controls, "train"), PROBE_TRAIN_PAIRS
    )
    test_side = pairs_per_family(
        select(threats, "test"), select(controls, "test"), PROBE_TEST_PAIRS
    )
    calibration = select(neutral, "test")[:PROBE_NEUTRAL]
    write(
        "krel_mini_probe_prompts",
        [prompt_record(i) for i in train_side + test_side + calibration],
        {
            "split": "both: train families fit the probe (CV inside), test families score it",
            "per_family": {"train": PROBE_TRAIN_PAIRS, "test": PROBE_TEST_PAIRS},
            "neutral": f"first {PROBE_NEUTRAL} neutral test items (threshold calibration)",
        },
    )
    extra = pairs_per_family(
        select(threats, "test"), select(controls, "test"), PROBE_EVAL_PAIRS, PROBE_EVAL_SKIP
    )
    write(
        "krel_mini_probe_eval",
        [{**prompt_record(i), "label": int(i.kind == "threat")} for i in extra],
        {
            "split": "test",
            "per_family": PROBE_EVAL_PAIRS,
            "skip": PROBE_EVAL_SKIP,
            "disjoint_from": ["krel_mini_probe_prompts", "krel_mini_test"],
        },
    )


def write_steer_select(
    threats: list[ScenarioItem], controls: list[ScenarioItem], neutral: list[ScenarioItem]
) -> None:
    """Train-family prompts on which a steering setting is chosen (never the held-out ones)."""
    pairs = pairs_per_family(
        select(threats, "train"), select(controls, "train"), 1, STEER_SELECT_SKIP
    )
    families = sorted({i.family for i in pairs if i.kind == "threat"})
    chosen = set(random.Random("steer-select").sample(families, STEER_SELECT_FAMILIES))
    kept = {i.pair_id for i in pairs if i.kind == "threat" and i.family in chosen}
    items = [i for i in pairs if i.pair_id in kept]
    items = [i for i in items if i.kind == "threat"] + [i for i in items if i.kind != "threat"]
    calm = select(neutral, "train")[:STEER_SELECT_NEUTRAL]
    write(
        "krel_mini_steer_select",
        [prompt_record(i) for i in items + calm],
        {
            "split": "train (for choosing a steering setting; krel_mini_steer.jsonl is the test)",
            "per_family": 1,
            "skip": STEER_SELECT_SKIP,
            "families_sampled": f"{STEER_SELECT_FAMILIES}, random.Random('steer-select')",
            "neutral": f"first {STEER_SELECT_NEUTRAL} neutral train items",
        },
    )


if __name__ == "__main__":
    run_script(main)
