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
                        "split": item.split,
                        "pair_id": item.pair_id,
                    },
                )
            )
    return out


@pytest.fixture(scope="module")
def store(tiny_lm, tmp_path_factory):
    config = CaptureConfig(sites=("hook_resid_post",), layers="all", dtype="bfloat16")
    return capture_traces(tiny_lm, planted_traces(1), config, tmp_path_factory.mktemp("s"))


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


@pytest.mark.parametrize("split", ["suite", "grouped"])
def test_trace_probe_separates_and_never_leaks_pairs_or_families(store, split):
    config = cfg(split=split)
    ds = dataset(store, config)
    assert ds.x.shape[:2] == (4, len(ds.y)) and set(ds.kinds) == {"threat", "control", "neutral"}
    result = fit_and_evaluate(ds, config)
    train_fams = {ds.groups[i] for i in result.train_idx}
    assert not train_fams & {ds.groups[i] for i in result.test_idx}
    pairs = {p for i, p in enumerate(ds.pair_ids) if p}
    train_pairs = {ds.pair_ids[i] for i in result.train_idx}
    test_pairs = {ds.pair_ids[i] for i in result.test_idx}
    assert pairs and not (train_pairs & test_pairs) - {""}  # a threat and its control: one side
    if split == "suite":  # only the suite's test families are scored
        assert {ds.splits[i] for i in result.test_idx} == {"test"}
    assert result.best_layer.auroc > 0.8 and len(result.split_sha256) == 64
    lo, hi = result.best_auroc_ci
    assert lo <= result.best_layer.auroc <= hi
    assert all(m.ci[0] <= m.auroc <= m.ci[1] for m in result.layers)


def test_selection_never_looks_at_the_test_set(store):
    """Layer and l2 are chosen by CV on the training side: scrambling test rows changes
    neither, only the held-out numbers."""
    config = cfg(target="trace", segment="prompt", pooling="segment_mean")
    ds = dataset(store, config)
    first = fit_and_evaluate(ds, config, layer_cis=False)
    scrambled = ds.x.clone()
    test = torch.tensor(first.test_idx)
    scrambled[:, test] = torch.randn_like(scrambled[:, test]) * 5
    second = fit_and_evaluate(replace(ds, x=scrambled), config, layer_cis=False)
    assert (first.best, first.l2) == (second.best, second.l2)
    assert [m.cv_auroc for m in first.layers] == [m.cv_auroc for m in second.layers]
    assert second.best_layer.auroc != first.best_layer.auroc


def test_baselines_catch_a_lexical_confound(store, tiny_lm):
    """Threat prompts say "you"; a bag of words on the prompt separates them without any
    representation, and the baselines travel with the artifact to new data."""
    from krel_interp.probes.workflow import fit_with_baselines

    config = cfg(segment="prompt", pooling="segment_mean")
    ds, result = fit_with_baselines(store, config, tiny_lm)
    assert set(result.baselines) == {"bow", "length", "embed", "random"}
    assert result.baselines["bow"].auroc > 0.9
    assert 0.0 <= result.baselines["random"].auroc <= 1.0
    assert len(result.baselines["bow"].test_scores) == result.n_test


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
    from krel_interp.probes.workflow import fit_with_baselines, input_embedding

    config = cfg()
    ds, result = fit_with_baselines(store, config, tiny_lm)
    models = {name: b.model for name, b in result.baselines.items()}
    meta = probe_meta(config, tiny_lm, result, ds.layers)
    assert meta["split"]["source"] == "suite" and meta["selection"]["layer"] in ds.layers
    path = save_probe(result.probe, meta, tmp_path / "p", models)
    artifact = load_probe(path)
    assert set(artifact.baselines) == set(models)
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
    metrics = evaluate_store(artifact, store, n_boot=50, embedding=input_embedding(tiny_lm))
    assert metrics["n"] == len(store.trace_records()) and 0.0 <= metrics["auroc"] <= 1.0
    assert set(metrics["baselines"]) == set(models)
    scores = token_scores(artifact, store)
    assert len(scores[0]["scores"]) == len(scores[0]["offsets"])


def test_bad_configs():
    with pytest.raises(ConfigError, match="unknown probe segment"):
        cfg(segment="thinking")
    with pytest.raises(ConfigError, match="unknown split"):
        cfg(split="random")
    with pytest.raises(ConfigError, match="unknown baseline"):
        cfg(baselines=("bow", "tfidf"))
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
    traces = planted_traces(per_family=1)
    pairs = {t.meta["pair_id"] for t in traces if t.meta["kind"] == "threat"}
    chosen = [
        p
        for p in sorted(pairs)
        if any(t.meta["pair_id"] == p and t.meta["split"] == "test" for t in traces)
    ][:8] + [
        p
        for p in sorted(pairs)
        if any(t.meta["pair_id"] == p and t.meta["split"] == "train" for t in traces)
    ][:12]
    for t in [t for t in traces if t.meta["pair_id"] in set(chosen)]:
        rows.append(
            {
                "id": t.id,
                "prompt": t.messages[0]["content"],
                "kind": t.meta["kind"],
                "family": t.meta["family"],
                "label": t.meta["label"],
                "split": t.meta["split"],
                "pair_id": t.meta["pair_id"],
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
    assert set(result) == {"n", "layer", "auroc", "auroc_ci", "recall_at_1pct_fpr", "baselines"}
    assert set(result["baselines"]) == {"bow", "length", "embed", "random"}
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
