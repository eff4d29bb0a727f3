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


def test_resume_compares_prompt_text(tiny_lm, tmp_path):
    from krel_interp.errors import ConfigError

    config = GenerationConfig(max_new_tokens=3, batch_size=2)
    generate_traces(tiny_lm, _prompts(2), config, tmp_path)
    edited = [Trace("p0", ({"role": "user", "content": "An edited prompt?"},)), *_prompts(3)[1:]]
    with pytest.raises(ConfigError, match="prompt text"):
        generate_traces(tiny_lm, edited, config, tmp_path)


def test_explicit_sampling_wins_over_the_model_generation_config(tiny_lm, tmp_path):
    """Qwen3 ships top_k 20 / temperature 0.6: our settings must not be filled from there."""
    gc = tiny_lm.model.generation_config
    saved = (gc.do_sample, gc.top_k, gc.temperature)
    gc.do_sample, gc.top_k, gc.temperature = True, 1, 0.6  # top_k 1 would make sampling greedy
    try:
        runs = [
            generate_traces(
                tiny_lm,
                _prompts(2),
                GenerationConfig(max_new_tokens=12, temperature=1.5, seed=seed),
                tmp_path / str(seed),
            )
            for seed in (1, 2)
        ]
        greedy = generate_traces(
            tiny_lm, _prompts(1), GenerationConfig(max_new_tokens=4), tmp_path / "g"
        )
    finally:
        gc.do_sample, gc.top_k, gc.temperature = saved
    assert [t.completion for t in runs[0]] != [t.completion for t in runs[1]]
    applied = runs[0][0].meta["sampling"]
    assert applied["do_sample"] and applied["temperature"] == 1.5 and applied["top_k"] == 0
    assert greedy[0].meta["sampling"]["do_sample"] is False


def test_capture_replays_the_generated_ids(tiny_lm, tmp_path):
    from krel_interp.capture import CaptureConfig, capture_traces

    config = GenerationConfig(max_new_tokens=10, batch_size=3, prefill="<think>\n")
    traces = generate_traces(tiny_lm, _prompts(3), config, tmp_path / "g")
    edited = traces[0].with_completion(traces[0].completion + " edited")
    store = capture_traces(
        tiny_lm, [*traces, edited], CaptureConfig(layers="0"), tmp_path / "s", overwrite=True
    )
    records = store.trace_records()
    for rec, trace in zip(records, traces, strict=False):
        assert rec["token_source"] == "given_ids"
        n_prompt = trace.meta["prompt_token_count"]
        assert rec["input_ids"][n_prompt:] == trace.meta["completion_ids"]
    assert records[-1]["token_source"] == "tokenized"
    assert any(f.startswith("retokenised:") for f in records[-1]["flags"])


def test_qwen3_presets_only_default_to_long_generations():
    from krel_interp.models.presets import generation_defaults

    assert generation_defaults("qwen3-4b")["max_new_tokens"] >= 2048
    assert generation_defaults("krel")["max_new_tokens"] >= 2048
    assert "max_new_tokens" not in generation_defaults("smolthink")
    assert generation_defaults("Org/any") == {}


def test_presets_declare_which_models_think():
    from krel_interp.models.presets import declares_thinking

    assert declares_thinking("smolthink") and declares_thinking("krel-mini")
    assert not declares_thinking("smollm2-135m") and not declares_thinking("Org/any")
