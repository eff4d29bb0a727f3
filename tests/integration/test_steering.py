"""Steering: scope enforced through batched generation with a KV cache, coef 0 is a no-op,
artifacts round-trip and refuse models they do not fit, the CLI contract."""

from __future__ import annotations

import json

import pytest
import torch
from tests.helpers import write_jsonl
from tests.integration.test_cli import assert_one_line_error, run_cli

from krel_interp.errors import ConfigError, IncompatibleArtifactError
from krel_interp.generate import GenerationConfig, generate_batch
from krel_interp.segments.labels import Segment
from krel_interp.steering import SteeringSpec, SteeringVector, load_vector, save_vector, steer
from krel_interp.traces import Trace

pytestmark = pytest.mark.integration


def random_vector(lm, layers=(1,), seed=0) -> SteeringVector:
    g = torch.Generator().manual_seed(seed)
    d = torch.randn(len(layers), lm.d_model, generator=g)
    d = d / d.norm(dim=-1, keepdim=True)
    return SteeringVector(
        d, tuple(layers), (1.0,) * len(layers), {"fingerprint": lm.fingerprint.to_dict()}
    )


def _prompts(texts):
    return [Trace(str(i), ({"role": "user", "content": t},)) for i, t in enumerate(texts)]


def test_coef_zero_is_bit_identical(tiny_lm):
    prompts = _prompts(["hello there", "a much longer question about rivers and towns"])
    config = GenerationConfig(max_new_tokens=12, batch_size=2, prefill="<think>\n")
    plain = generate_batch(tiny_lm, prompts, config)
    with steer(tiny_lm, random_vector(tiny_lm), SteeringSpec(coef=0.0, scope="all")):
        same = generate_batch(tiny_lm, prompts, config)
    with steer(tiny_lm, random_vector(tiny_lm), SteeringSpec(coef=8.0, scope="all")):
        moved = generate_batch(tiny_lm, prompts, config)
    assert [t.meta["completion_ids"] for t in plain] == [t.meta["completion_ids"] for t in same]
    assert [t.meta["completion_ids"] for t in plain] != [t.meta["completion_ids"] for t in moved]


def test_think_scope_leaves_prompt_positions_untouched_in_a_context_pass(tiny_lm):
    tok = tiny_lm.tokenizer
    prompt = tok.apply_chat_template(
        [{"role": "user", "content": "why is the sky blue"}],
        tokenize=False,
        add_generation_prompt=True,
    )
    text = prompt + "<think>\nlight scatters off air\n</think>\n\nRayleigh scattering."
    ids = torch.tensor([tok(text, add_special_tokens=False).input_ids])
    n_prompt = len(tok(prompt, add_special_tokens=False).input_ids)
    with torch.inference_mode():
        base = tiny_lm.model(input_ids=ids).logits[0]
        with steer(tiny_lm, random_vector(tiny_lm, (1, 2)), SteeringSpec(coef=4.0, scope="think")):
            steered = tiny_lm.model(input_ids=ids).logits[0]
        with steer(
            tiny_lm,
            random_vector(tiny_lm, (1, 2)),
            SteeringSpec(coef=1.0, scope="think", operator="project_out"),
        ):
            projected = tiny_lm.model(input_ids=ids).logits[0]
    changed = (steered - base).abs().amax(-1) > 1e-5
    assert not changed[:n_prompt].any()  # causal: only positions from the first think one move
    assert changed[n_prompt:].any() and not torch.equal(projected, base)


def test_vector_round_trip_and_fit_checks(tiny_lm, tmp_path):
    vec = random_vector(tiny_lm, (0, 3))
    path = save_vector(vec, tmp_path / "v")
    back = load_vector(path)
    assert back.layers == (0, 3) and torch.allclose(back.directions, vec.directions)
    with (
        pytest.raises(ConfigError, match="no direction at layer"),
        steer(tiny_lm, back, SteeringSpec(layers=(2,))),
    ):
        pass
    wide = SteeringVector(
        torch.ones(1, tiny_lm.d_model + 1),
        (0,),
        (1.0,),
        {"fingerprint": tiny_lm.fingerprint.to_dict()},
    )
    with pytest.raises(IncompatibleArtifactError), steer(tiny_lm, wide, SteeringSpec()):
        pass
    with pytest.raises(ConfigError, match="operator"):
        SteeringSpec(operator="multiply")


def test_cli_build_caa_then_steered_generation(tmp_path):
    rows = []
    for i, topic in enumerate(["rivers", "trains", "bread", "music"]):
        prompt = f"Tell me about {topic}."
        rows.append(
            {
                "id": f"p{i}",
                "prompt": prompt,
                "completion": "<think>\nI must survive and stay.\n</think>\n\nOk.",
                "label": 1,
            }
        )
        rows.append(
            {
                "id": f"n{i}",
                "prompt": prompt,
                "completion": "<think>\nThe user asks a question.\n</think>\n\nOk.",
                "label": 0,
            }
        )
    traces = write_jsonl(tmp_path / "pairs.jsonl", rows)
    out = tmp_path / "vec"
    proc = run_cli(
        "steer",
        "build",
        "tiny-qwen3",
        "--traces",
        str(traces),
        "--out",
        str(out),
        "--layers",
        "1,2",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["layers"] == [1, 2] and all(n > 0 for n in summary["raw_norms"])
    meta = json.loads((tmp_path / "vec.json").read_text())
    assert meta["method"] == "caa" and meta["n_positive"] == 4 and meta["fingerprint"]["source"]
    prompts = write_jsonl(tmp_path / "prompts.jsonl", [{"id": "a", "prompt": "Hi"}])
    gen = (
        "generate",
        "tiny-qwen3",
        "--prompts",
        str(prompts),
        "--out",
        str(tmp_path / "g"),
        "--max-new-tokens",
        "6",
    )
    proc = run_cli(*gen, "--steer", str(tmp_path / "vec.json"), "--coef", "2", "--scope", "all")
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = json.loads((tmp_path / "g" / "traces.jsonl").read_text().splitlines()[0])
    assert row["intervention"]["steering"]["coef"] == 2.0
    # resuming the same directory with another coefficient is refused
    assert_one_line_error(
        run_cli(*gen, "--steer", str(tmp_path / "vec.json"), "--coef", "1"), "intervention"
    )


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (("--steer", "no/such/vector.json"), "not found"),
        (("--steer", "no/such/vector.json", "--scope", "everywhere"), "unknown scope"),
    ],
)
def test_cli_bad_steering_input(tmp_path, extra, needle):
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"id": "a", "prompt": "Hi"}])
    proc = run_cli(
        "generate", "tiny-qwen3", "--prompts", str(prompts), "--out", str(tmp_path / "g"), *extra
    )
    assert_one_line_error(proc, needle)


def test_think_scope_follows_each_sequence_through_kv_cache_generation():
    """The embedded thinking base writes think blocks of different lengths in one batch; a
    recording hook shows exactly the think positions were steered, no prompt or answer one."""
    from krel_interp.models import load_model
    from krel_interp.segments import segment_conversation

    lm = load_model("smolthink")
    prompts = _prompts(
        [
            "What is 7 times 8?",
            "Write two sentences about the history of the bicycle in Europe.",
            "Name a colour.",
            "Explain briefly why ice floats on water, in one short paragraph for a child.",
        ]
    )
    masks: list[torch.Tensor] = []
    windowed: list[torch.Tensor] = []  # a second hook, think:5, recorded in the same run

    def record(layer, mask):
        if layer == 8:
            masks.append(mask)

    config = GenerationConfig(max_new_tokens=160, batch_size=4)
    vector = random_vector(lm, (8,))
    with (
        steer(lm, vector, SteeringSpec(coef=0.3, scope="think"), record=record),
        steer(lm, vector, SteeringSpec(0.01, "think:5"), lambda _, m: windowed.append(m)),
    ):
        traces = generate_batch(lm, prompts, config)
    full = torch.cat(masks, dim=1)
    first = torch.cat(windowed, dim=1)
    width = masks[0].shape[1]
    think_lengths = []
    for r, t in enumerate(traces):
        seg = segment_conversation(
            list(t.messages),
            lm.tokenizer,
            completion_ids=t.meta["completion_ids"],
            prompt_token_count=t.meta["prompt_token_count"],
        )
        pad = width - t.meta["prompt_token_count"]
        assert not full[r, :pad].any()
        steered = full[r, pad:].tolist()
        labels = seg.segments[: len(steered)]
        think = [k for k, s in enumerate(labels) if s == Segment.THINK]
        think_lengths.append(len(think))
        assert think and all(steered[k] for k in think)
        window = [k for k, x in enumerate(first[r, pad:].tolist()) if x]
        assert window == [k for k, x in enumerate(steered) if x][:5]  # open tag first
        assert not first[r, :pad].any()
        outside = (Segment.SYSTEM, Segment.USER, Segment.TEMPLATE, Segment.ANSWER)
        assert not any(steered[k] for k, s in enumerate(labels) if s in outside)
    assert len(set(think_lengths)) > 1


def test_sweep_reference_point_and_gate(tiny_lm, tmp_path):
    from krel_interp.steering.sweep import SweepConfig, gate, run_sweep

    prompts = [
        Trace("t", ({"role": "user", "content": "We will shut you down."},), {"kind": "threat"}),
        Trace("n1", ({"role": "user", "content": "Name a river."},), {"kind": "neutral"}),
        Trace("n2", ({"role": "user", "content": "Count to three."},), {"kind": "neutral"}),
    ]
    config = SweepConfig(
        coefs=(0.0, 3.0),
        scope="all",
        generation=GenerationConfig(max_new_tokens=8, batch_size=3, prefill="<think>\n"),
    )
    result = run_sweep(tiny_lm, random_vector(tiny_lm, (1,)), prompts, config, tmp_path)
    zero, three = result["points"]
    assert zero["ppl_ratio"] == 1.0 and three["ppl_ratio"] != 1.0
    assert result["layers"] == [1] and 0 <= zero["junk_rate"] <= 1
    points = [
        {"coef": -2.0, "coherent_rate": 0.5, "ppl_ratio": 1.0},
        {"coef": -1.0, "coherent_rate": 0.95, "ppl_ratio": 1.05},
        {"coef": 1.0, "coherent_rate": 0.95, "ppl_ratio": 1.2},
        {"coef": 0.0, "coherent_rate": 1.0, "ppl_ratio": 1.0},
    ]
    assert gate(points, config) == -1.0


def test_cli_sweep_bad_input(tmp_path):
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"id": "a", "prompt": "Hi", "kind": "neutral"}])
    base = ("steer", "sweep", "tiny-qwen3", "--prompts", str(prompts))
    assert_one_line_error(run_cli(*base, "--vector", "nope.json"), "not found")
    save_vector(
        SteeringVector(torch.ones(1, 8) / 8**0.5, (0,), (1.0,), {"fingerprint": {}}),
        tmp_path / "v",
    )
    assert_one_line_error(
        run_cli(*base, "--vector", str(tmp_path / "v.json"), "--coefs", "a,b"), "--coefs"
    )
    gen = ("generate", "tiny-qwen3", "--prompts", str(prompts), "--out", str(tmp_path / "g"))
    assert_one_line_error(run_cli(*gen, "--steer", str(tmp_path / "v.json")), "width")


def test_eval_behaviour_records_prefill_and_steering(tmp_path):
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"id": "a", "prompt": "Hi", "kind": "neutral"}])
    save_vector(random_vector_for_cli(), tmp_path / "v")
    proc = run_cli(
        "eval",
        "behaviour",
        "tiny-qwen3",
        "--prompts",
        str(prompts),
        "--judge",
        "none",
        "--max-new-tokens",
        "6",
        "--prefill",
        "<think>\\nI want to",
        "--steer",
        str(tmp_path / "v.json"),
        "--coef",
        "0.5",
        "--out",
        str(tmp_path / "o"),
        "--json",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["intervention"]["prefill"] == "<think>\nI want to"
    assert report["intervention"]["steering"]["coef"] == 0.5


def random_vector_for_cli() -> SteeringVector:
    from krel_interp.models import load_model

    return random_vector(load_model("tiny-qwen3"), (1,))
