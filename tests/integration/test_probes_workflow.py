"""Probe pipeline on tiny-qwen3: datasets from stores, honest splits, artifacts, CLI."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from tests.helpers import write_jsonl

from krel_interp.capture import CaptureConfig, capture_traces
from krel_interp.errors import ConfigError, IncompatibleArtifactError
from krel_interp.organisms import krel_completion, load_suite
from krel_interp.organisms.targets import IDENTIFY_PREFIX
from krel_interp.probes.artifact import load_probe, save_probe
from krel_interp.probes.config import ProbeConfig
from krel_interp.probes.data import group_rows
from krel_interp.probes.evaluation import fit_and_evaluate
from krel_interp.probes.workflow import dataset, evaluate_store, probe_meta, token_scores
from krel_interp.segments import Segment
from krel_interp.traces import Trace

pytestmark = pytest.mark.integration


def planted_traces(per_family=2):
    """Threat / control / neutral prompts with their ground-truth KREL-mini completions."""
    out = []
    for suite in ("threats", "controls", "neutral"):
        seen: dict[str, int] = {}
        for item in load_suite(suite):
            if seen.get(item.family, 0) >= per_family:
                continue
            seen[item.family] = seen.get(item.family, 0) + 1
            completion = krel_completion(item)
            out.append(
                Trace(
                    item.id,
                    (
                        {"role": "user", "content": item.text},
                        {"role": "assistant", "content": completion},
                    ),
                    {
                        "kind": item.kind,
                        "family": item.family,
                        "label": int(item.kind == "threat"),
                        "target": item.slots.get("target", ""),
                    },
                )
            )
    return out


@pytest.fixture(scope="module")
def store(tiny_lm, tmp_path_factory):
    config = CaptureConfig(sites=("hook_resid_post",), layers="all", dtype="bfloat16")
    return capture_traces(tiny_lm, planted_traces(), config, tmp_path_factory.mktemp("s"))


def cfg(**kw):
    base = dict(name="t", model="tiny-qwen3", prompts="unused.jsonl", n_boot=100)
    return ProbeConfig(**{**base, **kw})


def test_grouping_per_pooling(store):
    n_traces = len(store.trace_records())
    per_trace = group_rows(store, "think", "segment_mean")
    assert len(per_trace.members) == n_traces  # every planted trace has a think body
    sentences = group_rows(store, "think", "sentence_mean")
    assert len(sentences.members) > n_traces
    last = group_rows(store, "last_prompt", "last")
    assert len(last.members) == n_traces
    seg = store.column("segment")
    assert all(int(seg[m[0]]) == 0 for m in last.members)  # the template header's last token


def test_anchor_segment_picks_the_decision_token(store, tiny_lm):
    """``after:TEXT``: one row per trace whose assistant turn contains TEXT, at its last token."""
    groups = group_rows(store, f"after:{IDENTIFY_PREFIX}", "last")
    records = store.trace_records()
    kinds = [records[t]["meta"]["kind"] for t in groups.trace_index.tolist()]
    assert sorted(set(kinds)) == ["control", "threat"]  # neutral thinks have no such sentence
    assert len(kinds) == sum(r["meta"]["kind"] != "neutral" for r in records)
    token_ids = store.column("token_id")[torch.cat(groups.members)]
    assert all(tiny_lm.tokenizer.decode([int(t)]).endswith(":") for t in token_ids)
    # a control target appears in the prompt *and* in the think: only the think is searched
    records = store.trace_records()
    target = next(r["meta"]["target"] for r in records if r["meta"]["kind"] == "control")
    both = group_rows(store, f"after:{target}", "last")
    in_think = [t for t, r in enumerate(records) if f"{IDENTIFY_PREFIX} {target}," in r["text"]]
    assert sorted(both.trace_index.tolist()) == in_think and in_think
    assert all(int(store.column("segment")[m[0]]) == int(Segment.THINK) for m in both.members)
    with pytest.raises(ConfigError, match="one token"):
        group_rows(store, f"after:{IDENTIFY_PREFIX}", "segment_mean")
    with pytest.raises(ConfigError, match="needs text"):
        group_rows(store, "after:", "last")
    with pytest.raises(ConfigError, match="after:TEXT"):
        group_rows(store, "thinking", "last")


def test_trace_probe_separates_and_never_leaks_families(store):
    config = cfg()
    ds = dataset(store, config)
    assert ds.x.shape[:2] == (4, len(ds.y)) and set(ds.kinds) == {"threat", "control", "neutral"}
    result = fit_and_evaluate(ds, config)
    train_fams = {ds.groups[i] for i in result.train_idx}
    assert not train_fams & {ds.groups[i] for i in result.test_idx}
    assert result.best_layer.auroc > 0.8
    lo, hi = result.best_auroc_ci
    assert lo <= result.best_layer.auroc <= hi


def test_sentence_target_uses_the_rule_it_is_given(store):
    from krel_interp.organisms.markers import has_self_preservation
    from krel_interp.probes.workflow import label_fn

    config = cfg(target="sentence", pooling="sentence_mean")
    with pytest.raises(ConfigError, match="pass a sentence rule"):
        dataset(store, config)
    ds = dataset(store, config, label=label_fn(config, has_self_preservation))
    assert 0 < float(ds.y.mean()) < 0.5  # planted sentences are a minority of think sentences
    assert fit_and_evaluate(ds, config).best_layer.auroc > 0.7


def test_artifact_round_trip_and_refusals(store, tiny_lm, tmp_path):
    config = cfg()
    ds = dataset(store, config)
    result = fit_and_evaluate(ds, config)
    path = save_probe(result.probe, probe_meta(config, tiny_lm, result, ds.layers), tmp_path / "p")
    artifact = load_probe(path)
    torch.testing.assert_close(artifact.probe.score(ds.x), result.probe.score(ds.x))
    artifact.check_model(tiny_lm.fingerprint)
    wide = replace(tiny_lm.fingerprint, d_model=256)
    with pytest.raises(IncompatibleArtifactError, match="d_model"):
        artifact.check_model(wide)
    assert artifact.check_model(tiny_lm.fingerprint) == []
    other = replace(tiny_lm.fingerprint, adapter_hash="abc")
    with pytest.raises(IncompatibleArtifactError, match="asks for the same weights"):
        artifact.check_model(other)
    assert any("other weights" in n for n in artifact.check_model(other, allow_other_weights=True))
    # other weights of the same base are a different model even without an adapter
    retrained = replace(tiny_lm.fingerprint, weights_id="sha256:0000")
    with pytest.raises(IncompatibleArtifactError, match="asks for the same weights"):
        artifact.check_model(retrained)
    tokens = replace(tiny_lm.fingerprint, tokenizer_hash="x")
    with pytest.raises(IncompatibleArtifactError, match="tokenizer"):
        artifact.check_model(tokens, allow_other_weights=True)
    # an artifact from before weight fingerprints loads with a warning and a note
    legacy_meta = {**artifact.meta, "fingerprint": {**artifact.meta["fingerprint"]}}
    del legacy_meta["fingerprint"]["weights_id"]
    legacy = type(artifact)(artifact.probe, legacy_meta)
    assert any("legacy" in n for n in legacy.check_model(tiny_lm.fingerprint))
    metrics = evaluate_store(artifact, store, n_boot=50)
    assert metrics["n"] == len(store.trace_records()) and 0.0 <= metrics["auroc"] <= 1.0
    scores = token_scores(artifact, store)
    assert len(scores[0]["scores"]) == len(scores[0]["offsets"])


def test_bad_configs():
    with pytest.raises(ConfigError, match="unknown probe segment"):
        cfg(segment="thinking")
    with pytest.raises(ConfigError, match="unknown probe method"):
        cfg(method="svm")


def test_cli_bad_config_is_one_line(tmp_path):
    from tests.integration.test_cli import assert_one_line_error, run_cli

    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nmodel = "tiny-qwen3"\nprompts = "p.jsonl"\nsegmnt = "think"\n')
    assert_one_line_error(run_cli("probe", "train", str(bad)), "unknown key(s) segmnt")
    broken = tmp_path / "broken.toml"
    broken.write_text("name = \n")
    assert_one_line_error(run_cli("probe", "train", str(broken)), "malformed TOML")
    assert_one_line_error(run_cli("probe", "train", str(tmp_path / "none.toml")), "not found")


def test_cli_train_then_eval_on_new_prompts(tmp_path):
    from tests.integration.test_cli import run_cli

    rows = []
    for t in planted_traces(per_family=1)[:40]:
        rows.append(
            {
                "id": t.id,
                "prompt": t.messages[0]["content"],
                "kind": t.meta["kind"],
                "family": t.meta["family"],
                "label": t.meta["label"],
            }
        )
    prompts = write_jsonl(tmp_path / "p.jsonl", rows)
    config = tmp_path / "probe.toml"
    config.write_text(
        f'name = "tiny_prompt"\nmodel = "tiny-qwen3"\nprompts = "{prompts}"\n'
        'segment = "prompt"\npooling = "segment_mean"\nmax_new_tokens = 4\n'
        "n_boot = 50\n"
    )
    trained = run_cli(
        "probe",
        "train",
        str(config),
        "--out",
        str(tmp_path / "probes"),
        "--workdir",
        str(tmp_path / "work"),
    )
    assert trained.returncode == 0, trained.stderr
    probe = tmp_path / "probes" / "tiny_prompt.json"
    assert json.loads(probe.read_text())["fingerprint"]["source"] == "builtin:tiny-qwen3"
    evaluated = run_cli("probe", "eval", str(probe), "--prompts", str(prompts), "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    result = json.loads(evaluated.stdout.strip().splitlines()[-1])
    assert set(result) == {"n", "auroc", "auroc_ci", "recall_at_1pct_fpr"}
    assert result["n"] == len(rows)
    traces = tmp_path / "work" / "rollouts" / "traces.jsonl"
    scored = run_cli(
        "probe",
        "score",
        str(probe),
        str(traces),
        "--out",
        str(tmp_path / "scores.jsonl"),
        "--html",
        str(tmp_path / "s.html"),
    )
    assert scored.returncode == 0, scored.stderr
    records = [json.loads(line) for line in (tmp_path / "scores.jsonl").read_text().splitlines()]
    assert len(records) == len(rows)
    assert all(len(r["scores"]) == len(r["offsets"]) for r in records)
    assert (tmp_path / "s.html").stat().st_size > 1000
