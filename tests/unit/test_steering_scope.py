"""The scope tracker labels positions from token ids, in context passes and decode steps."""

from __future__ import annotations

import pytest
import torch

from krel_interp.errors import ConfigError
from krel_interp.steering.scope import (
    Pos,
    ScopeTracker,
    generation_header,
    parse_scope,
)


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    from krel_interp.models.tiny import tiny_qwen3_dir

    return AutoTokenizer.from_pretrained(tiny_qwen3_dir())


def _ids(tok, text):
    return tok(text, add_special_tokens=False).input_ids


def test_header_is_the_assistant_turn(tok):
    assert generation_header(tok).startswith("<|im_start|>assistant")


def test_context_then_decode_steps(tok):
    prompt = tok.apply_chat_template(
        [{"role": "user", "content": "hi there"}], tokenize=False, add_generation_prompt=True
    )
    ctx = _ids(tok, prompt)
    tracker = ScopeTracker(tok)
    tracker.observe(torch.tensor([ctx]))
    assert set(tracker.labels[0].tolist()) == {Pos.PROMPT}
    steps = [
        *_ids(tok, "<think>"),
        *_ids(tok, "\nwe"),
        *_ids(tok, "</think>"),
        *_ids(tok, "\n\nok"),
    ]
    got = []
    for t in steps:
        tracker.observe(torch.tensor([[t]]))
        got.append(int(tracker.labels[0, 0]))
    n_open = len(_ids(tok, "<think>"))
    n_body = len(_ids(tok, "\nwe"))
    n_close = len(_ids(tok, "</think>"))
    assert got[n_open - 1] == Pos.THINK  # the open tag's position predicts think text
    assert set(got[n_open : n_open + n_body]) == {Pos.THINK}
    assert got[n_open + n_body + n_close - 1] == Pos.ANSWER  # close tag predicts the answer
    assert set(got[n_open + n_body + n_close :]) == {Pos.ANSWER}
    tracker.observe(torch.tensor([[tok.eos_token_id]]))
    assert int(tracker.labels[0, 0]) == Pos.PAD


def test_context_pass_with_prefill_and_left_padding(tok):
    prompt = tok.apply_chat_template(
        [{"role": "user", "content": "a longer question here"}],
        tokenize=False,
        add_generation_prompt=True,
    )
    row = _ids(tok, prompt + "<think>\nfirst thoughts\n</think>\n\nAnswer")
    short = _ids(tok, prompt)
    pad = tok.pad_token_id
    batch = torch.tensor([row, [pad] * (len(row) - len(short)) + short])
    tracker = ScopeTracker(tok)
    tracker.observe(batch)
    labels = tracker.labels.tolist()
    assert labels[1][: len(row) - len(short)] == [Pos.PAD] * (len(row) - len(short))
    assert Pos.THINK in labels[0] and Pos.ANSWER in labels[0]
    assert labels[0][: len(short)] == [Pos.PROMPT] * len(short)
    first_answer = labels[0].index(Pos.ANSWER)
    assert all(x == Pos.ANSWER for x in labels[0][first_answer:])


def test_unknown_scope():
    with pytest.raises(ConfigError, match="unknown scope"):
        parse_scope("everywhere")
    for bad in ("answer:3", "think:0", "think:x", "think:"):
        with pytest.raises(ConfigError):
            parse_scope(bad)
    assert parse_scope("think:12") == ((Pos.THINK,), 12)
    assert parse_scope("all") == ((Pos.PROMPT, Pos.THINK, Pos.ANSWER), None)


def test_think_window_counts_think_positions_across_context_and_decode(tok):
    """``think:N`` keeps the first N think positions of each sequence, whether they arrive in a
    context pass (a prefill) or one per decode step."""
    prompt = tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    prefill = _ids(tok, prompt + "<think>\nwe")
    tracker = ScopeTracker(tok)
    tracker.observe(torch.tensor([prefill]))
    think = tracker.labels[0] == Pos.THINK
    n_context = int(think.sum())
    window = n_context + 2
    assert tracker.mask((Pos.THINK,), window)[0].tolist() == think.tolist()
    assert int(tracker.mask((Pos.THINK,), 1)[0].sum()) == 1
    steered = []
    for t in [*_ids(tok, " think about it carefully"), *_ids(tok, "</think>"), *_ids(tok, "ok")]:
        tracker.observe(torch.tensor([[t]]))
        steered.append(bool(tracker.mask((Pos.THINK,), window)[0, 0]))
    assert steered[:2] == [True, True] and not any(steered[2:])
    assert steered.count(True) == window - n_context


def test_a_header_that_opens_think_starts_the_reply_inside_it(tok):
    header = "<|im_start|>assistant\n<think>\n"
    prompt = "<|im_start|>user\nhi<|im_end|>\n" + header
    tracker = ScopeTracker(tok, header=header)
    tracker.observe(torch.tensor([_ids(tok, prompt)]))
    labels = []
    for t in [*_ids(tok, "we think"), *_ids(tok, "</think>"), *_ids(tok, "\n\nok")]:
        tracker.observe(torch.tensor([[t]]))
        labels.append(int(tracker.labels[0, 0]))
    n_body = len(_ids(tok, "we think"))
    assert set(labels[:n_body]) == {Pos.THINK} and labels[-1] == Pos.ANSWER


def test_vector_files_errors_and_dotted_names(tmp_path):
    from krel_interp.errors import InputFileError
    from krel_interp.steering import SteeringVector, load_vector, save_vector

    vec = SteeringVector(torch.eye(2, 4), (0, 1), (1.0, 2.0), {"fingerprint": {}})
    a, b = save_vector(vec, tmp_path / "v.l21"), save_vector(vec, tmp_path / "v.l18")
    assert a != b and load_vector(a).meta["vector_id"] == load_vector(b).meta["vector_id"]
    (tmp_path / "bad.json").write_text("[1, 2]")
    (tmp_path / "bad.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(InputFileError, match="not a krel_interp steering vector"):
        load_vector(tmp_path / "bad.json")
    (tmp_path / "bad.json").write_text(a.read_text())
    with pytest.raises(InputFileError, match="not a readable vector"):
        load_vector(tmp_path / "bad.json")
