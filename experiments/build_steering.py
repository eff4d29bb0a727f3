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

from krel_interp.cli.common import run_script
from krel_interp.io import write_json_atomic, write_jsonl_atomic
from krel_interp.organisms.suites import load_suite, select
from krel_interp.organisms.targets import (
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
    args = parser.parse_args()
    args.out = args.out.resolve()
    os.chdir(ROOT)  # provenance records repository-relative paths

    from krel_interp.models import load_model
    from krel_interp.steering import BuildConfig, build_vector, load_vector, save_vector
    from krel_interp.steering.build import random_like

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
    print(
        json.dumps(
            {
                "vector": str(path.relative_to(ROOT)),
                "random_control": str(control.relative_to(ROOT)),
                "decision_probe": str(probe_path.relative_to(ROOT)),
                "layers": list(vector.layers),
                "n_traces": len(traces),
                "mean_norms": [round(x, 2) for x in vector.mean_norms],
                "raw_norms": [round(x, 3) for x in vector.meta["raw_norms"]],
                "prompts": kinds,
            }
        )
    )


if __name__ == "__main__":
    run_script(main)
