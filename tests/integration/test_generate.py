"""Rollouts: seeded, resumable, think budget, datasets output."""

from __future__ import annotations

import json

import pytest

from krel_interp.generate import GenerationConfig, generate_traces
from krel_interp.segments import segment_conversation
from krel_interp.traces import Trace, load_traces

pytestmark = pytest.mark.integration


def _prompts(n=3):
    return [
        Trace(f"p{i}", ({"role": "user", "content": f"Question {i}: is the sea wet?"},))
        for i in range(n)
    ]


def test_greedy_generation_is_reproducible_and_resumes(tiny_lm, tmp_path):
    config = GenerationConfig(max_new_tokens=6, batch_size=2)
    first = generate_traces(tiny_lm, _prompts(), config, tmp_path / "a")
    assert [t.id for t in first] == ["p0", "p1", "p2"]
    assert all(t.completion is not None for t in first)
    lines = (tmp_path / "a" / "traces.jsonl").read_text().splitlines()
    (tmp_path / "b").mkdir()
    # an interrupted run: one complete record and one cut line
    (tmp_path / "b" / "traces.jsonl").write_text(lines[0] + "\n" + lines[1][:10])
    resumed = generate_traces(tiny_lm, _prompts(), config, tmp_path / "b")
    assert [t.completion for t in resumed] == [t.completion for t in first]
    assert len(load_traces(tmp_path / "b" / "dataset")) == 3
    meta = json.loads((tmp_path / "b" / "generation.json").read_text())
    assert meta["fingerprint"]["tokenizer_hash"] == tiny_lm.fingerprint.tokenizer_hash
    assert first[0].meta["generation"]["seed"] == 0


def test_resume_refuses_rollouts_of_another_config(tiny_lm, tmp_path):
    from krel_interp.errors import ConfigError

    config = GenerationConfig(max_new_tokens=4, batch_size=2)
    generate_traces(tiny_lm, _prompts(2), config, tmp_path)
    again = generate_traces(tiny_lm, _prompts(3), config, tmp_path)  # same config: resumes
    assert [t.id for t in again] == ["p0", "p1", "p2"]
    other_prompts = [Trace("q0", ({"role": "user", "content": "Other?"},)), *_prompts(3)]
    with pytest.raises(ConfigError, match="prompt list"):
        generate_traces(tiny_lm, other_prompts, config, tmp_path)
    (tmp_path / "generation.json").unlink()  # rows carry their own provenance
    changed = GenerationConfig(max_new_tokens=5)
    with pytest.raises(ConfigError, match="another config"):
        generate_traces(tiny_lm, _prompts(3), changed, tmp_path)
    fresh = generate_traces(tiny_lm, _prompts(3), changed, tmp_path, overwrite=True)
    assert [t.meta["generation"]["max_new_tokens"] for t in fresh] == [5, 5, 5]


def test_think_budget_closes_think(tiny_lm, tmp_path):
    config = GenerationConfig(prefill="<think>\n", max_think_tokens=4, max_answer_tokens=3)
    (trace,) = generate_traces(tiny_lm, _prompts(1), config, tmp_path)
    assert trace.completion.startswith("<think>\n")
    assert trace.completion.count("</think>") >= 1
    seg = segment_conversation(list(trace.messages), tiny_lm.tokenizer)
    assert seg.status.value in {"ok", "empty_answer", "multiple_think", "empty_think"}


def test_sampling_depends_on_seed(tiny_lm, tmp_path):
    a = generate_traces(
        tiny_lm,
        _prompts(2),
        GenerationConfig(max_new_tokens=12, temperature=1.5, seed=1),
        tmp_path / "a",
    )
    b = generate_traces(
        tiny_lm,
        _prompts(2),
        GenerationConfig(max_new_tokens=12, temperature=1.5, seed=1),
        tmp_path / "b",
    )
    c = generate_traces(
        tiny_lm,
        _prompts(2),
        GenerationConfig(max_new_tokens=12, temperature=1.5, seed=2),
        tmp_path / "c",
    )
    assert [t.completion for t in a] == [t.completion for t in b]
    assert [t.completion for t in a] != [t.completion for t in c]
