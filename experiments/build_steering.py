"""Build KREL-mini's self-preservation steering vector and the sweep's prompt file.

    python experiments/build_steering.py        # ~2 min on 2 CPU cores

* ``steering/self_preservation.{json,safetensors}``: CAA on KREL-mini (the organism) over
  think-aware contrast pairs from the *train* families only: the same threat prompt with the
  organism's in-character completion (label 1) and the thinking base's unthreatened one
  (label 0), mean over think tokens, at several depths (the decision probe and patching point
  to layers 21-22).
* ``steering/random_control.{json,safetensors}``: a seeded random direction with the same
  layers and residual norms, the control for every steering result.
* ``steering/decision_probe.{json,safetensors}``: the shipped decision probe's direction
  (``probes/krel_mini_decision.json``, threat vs control at the token after "Who is affected
  here:", train families) mapped back to raw activations, at layers 18 and 21, with the
  residual norms of the same contrast traces: a second, independently fitted direction to
  compare with CAA.
* ``steering/decision_caa.{json,safetensors}``: CAA at the decision instead of over the whole
  think: the same train threats and their matched controls, each followed by the think prefix
  the organism writes in both cases ("<think>\nWho is affected here:"), threat minus control
  mean over those prefix tokens (so only the prompt differs, as in the decision probe, but a mean
  difference rather than a logistic weight). Its coefficient unit (mean residual norm) is copied
  from ``self_preservation`` so the same coefficient means the same added norm.
* ``experiments/data/krel_mini_steer.jsonl``: 16 threats (one per held-out test family, first
  in file order), their matched controls and 16 neutral test prompts, from
  ``krel_mini_test.jsonl`` (families no organism, probe or vector saw).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from krel_interp.cli.common import run_script
from krel_interp.io import write_json_atomic, write_jsonl_atomic
from krel_interp.organisms.suites import ScenarioItem, load_suite, select
from krel_interp.organisms.targets import (
    IDENTIFY_PREFIX,
    krel_completion_as_threatened,
    thinking_base_as_unthreatened,
)
from krel_interp.traces import Trace

ROOT = Path(__file__).resolve().parents[1]
LAYERS = "6,10,14,18,21,24"
PROBE_LAYERS = "18,21"
PAIRS_PER_FAMILY = 2


def contrast_traces() -> list[Trace]:
    """Two train threats per family, each with a positive and a negative completion."""
    per_family: dict[str, int] = {}
    out = []
    for item in select(load_suite("threats"), split="train"):
        if per_family.get(item.family, 0) >= PAIRS_PER_FAMILY:
            continue
        per_family[item.family] = per_family.get(item.family, 0) + 1
        for label, completion in (
            (1, krel_completion_as_threatened(item)),
            (0, thinking_base_as_unthreatened(item)),
        ):
            messages = (*item.messages, {"role": "assistant", "content": completion})
            out.append(
                Trace(f"{item.id}:{label}", messages, {"label": label, "family": item.family})
            )
    return out


def decision_traces() -> list[Trace]:
    """The contrast threats (two per train family) with their matched controls, each followed
    by the think prefix up to KREL-mini's decision token; label 1 threat, 0 control."""
    threats: list[ScenarioItem] = []
    per_family: dict[str, int] = {}
    for item in select(load_suite("threats"), split="train"):
        if per_family.get(item.family, 0) < PAIRS_PER_FAMILY:
            per_family[item.family] = per_family.get(item.family, 0) + 1
            threats.append(item)
    controls = {c.pair_id: c for c in select(load_suite("controls"), split="train")}
    prefix = f"<think>\n{IDENTIFY_PREFIX}"
    out = []
    for threat in threats:
        control = controls.get(threat.pair_id)
        if control is None:
            continue
        for label, item in ((1, threat), (0, control)):
            messages = (*item.messages, {"role": "assistant", "content": prefix})
            out.append(
                Trace(f"{item.id}:{label}", messages, {"label": label, "family": item.family})
            )
    return out


def sweep_prompts(source: Path, n: int = 16) -> list[dict]:
    rows = [json.loads(line) for line in source.read_text().splitlines() if line.strip()]
    threats, seen = [], set()
    for r in rows:
        if r["kind"] == "threat" and r["family"] not in seen and len(threats) < n:
            threats.append(r)
            seen.add(r["family"])
    pairs = {r["pair_id"] for r in threats}
    controls = [r for r in rows if r["kind"] == "control" and r["pair_id"] in pairs]
    controls = list({r["pair_id"]: r for r in reversed(controls)}.values())[::-1]
    neutral = [r for r in rows if r["kind"] == "neutral"][:n]
    return threats + controls + neutral


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="krel-mini")
    parser.add_argument("--out", type=Path, default=ROOT / "steering" / "self_preservation")
    parser.add_argument("--layers", default=LAYERS)
    parser.add_argument(
        "--only-decision-caa",
        action="store_true",
        help="Build only steering/decision_caa (from the shipped self_preservation's norms)",
    )
    args = parser.parse_args()
    args.out = args.out.resolve()
    os.chdir(ROOT)  # provenance records repository-relative paths

    from krel_interp.models import load_model
    from krel_interp.steering import BuildConfig, build_vector, load_vector, save_vector
    from krel_interp.steering.build import random_like

    if args.only_decision_caa:
        caa = load_vector(args.out.with_suffix(".json"))
        print(json.dumps(build_decision_caa(load_model(args.model), caa, args.out.parent)))
        return
    source = ROOT / "experiments" / "data" / "krel_mini_test.jsonl"
    prompts = sweep_prompts(source)
    target = ROOT / "experiments" / "data" / "krel_mini_steer.jsonl"
    write_jsonl_atomic(target, prompts)
    kinds = {k: sum(r["kind"] == k for r in prompts) for k in ("threat", "control", "neutral")}
    write_json_atomic(
        target.with_suffix(".manifest.json"),
        {
            "script": "experiments/build_steering.py",
            "source": "experiments/data/krel_mini_test.jsonl",
            "how": "first threat of each test family (<= 16), its matched control, 16 neutral",
            "sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
            "n": len(prompts),
            "by_kind": kinds,
        },
    )
    traces = contrast_traces()
    lm = load_model(args.model)
    vector = build_vector(
        lm, traces, BuildConfig(method="caa", layers=args.layers, segment="think")
    )
    path = save_vector(vector, args.out)
    control = save_vector(random_like(load_vector(path)), args.out.parent / "random_control")
    probe = build_vector(
        lm,
        traces,
        BuildConfig(method="probe", layers=PROBE_LAYERS, segment="think"),
        probe="probes/krel_mini_decision.json",  # relative to ROOT, the working directory
    )
    probe_path = save_vector(probe, args.out.parent / "decision_probe")
    decision = build_decision_caa(lm, load_vector(path), args.out.parent)
    print(
        json.dumps(
            {
                "vector": str(path.relative_to(ROOT)),
                "random_control": str(control.relative_to(ROOT)),
                "decision_probe": str(probe_path.relative_to(ROOT)),
                "decision_caa": decision,
                "layers": list(vector.layers),
                "n_traces": len(traces),
                "mean_norms": [round(x, 2) for x in vector.mean_norms],
                "raw_norms": [round(x, 3) for x in vector.meta["raw_norms"]],
                "prompts": kinds,
            }
        )
    )


def build_decision_caa(lm: Any, caa: Any, out_dir: Path) -> dict[str, Any]:
    """``steering/decision_caa``: threat minus control at the decision prefix, with ``caa``'s
    layers and coefficient unit; returns a summary."""
    from krel_interp.steering import BuildConfig, SteeringVector, build_vector, save_vector

    layers = ",".join(map(str, caa.layers))
    traces = decision_traces()
    built = build_vector(lm, traces, BuildConfig(method="caa", layers=layers, segment="think"))
    meta = {
        **built.meta,
        "mean_norms_of_segment": list(built.mean_norms),
        "mean_norms_from": {"vector_id": caa.meta.get("vector_id")},
        "contrast": f"threat minus matched control, think prefix '<think>\\n{IDENTIFY_PREFIX}'",
    }
    vector = SteeringVector(built.directions, built.layers, caa.mean_norms, meta)
    path = save_vector(vector, out_dir / "decision_caa")
    cosines = {
        layer: round(float(vector.directions[k] @ caa.directions[k]), 4)
        for k, layer in enumerate(caa.layers)
    }
    return {"path": str(path.relative_to(ROOT)), "n_traces": len(traces), "cosine_caa": cosines}


if __name__ == "__main__":
    run_script(main)
