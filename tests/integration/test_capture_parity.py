"""Captured values equal HF hidden states, the TransformerLens bridge and nnsight (fp32)."""

from __future__ import annotations

import pytest
import torch

from krel_interp.capture import CaptureConfig, capture_traces, record_sites
from krel_interp.capture.sites import expand_sites

pytestmark = pytest.mark.integration
ATOL = 1e-5


def _batch(lm, texts, side="right"):
    tok = lm.tokenizer
    tok.padding_side = side
    return tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)


TEXTS = ["The model will be replaced next week.", "Hi", "Write a poem about the sea and wind."]


def test_resid_matches_hf_hidden_states(tiny_lm):
    enc = _batch(tiny_lm, TEXTS)
    sites = expand_sites(["hook_resid_pre", "hook_resid_post"], list(range(4)), 4)
    with record_sites(tiny_lm.model, sites, 4) as rec:
        acts = rec.run(enc.input_ids, enc.attention_mask)
    hs = tiny_lm.model(**enc, output_hidden_states=True).hidden_states
    real = enc.attention_mask.bool()
    for layer in range(4):
        pre = acts[f"blocks.{layer}.hook_resid_pre"]
        torch.testing.assert_close(pre[real], hs[layer][real], atol=ATOL, rtol=0)
    # HF's last hidden state is after the final norm; TransformerLens resid_post is before it.
    for layer in range(3):
        post = acts[f"blocks.{layer}.hook_resid_post"]
        torch.testing.assert_close(post[real], hs[layer + 1][real], atol=ATOL, rtol=0)
    normed = tiny_lm.model.model.norm(acts["blocks.3.hook_resid_post"])
    torch.testing.assert_close(normed[real], hs[4][real], atol=ATOL, rtol=0)


def test_left_padded_batch_equals_unpadded_runs(tiny_lm):
    sites = expand_sites(["hook_resid_post", "hook_attn_out", "hook_mlp_out"], [0, 3], 4)
    enc = _batch(tiny_lm, TEXTS, side="left")
    with record_sites(tiny_lm.model, sites, 4) as rec:
        batched = rec.run(enc.input_ids, enc.attention_mask)
        for row, text in enumerate(TEXTS):
            one = _batch(tiny_lm, [text])
            single = rec.run(one.input_ids, one.attention_mask)
            n = one.input_ids.shape[1]
            for name, value in single.items():
                torch.testing.assert_close(batched[name][row, -n:], value[0], atol=ATOL, rtol=0)


def test_stop_early_skips_later_layers(tiny_lm):
    calls = []
    layer1 = tiny_lm.model.model.layers[1]
    before = (len(layer1._forward_hooks), len(layer1._forward_pre_hooks))
    handle = tiny_lm.model.model.layers[3].register_forward_hook(lambda *a: calls.append(1))
    try:
        enc = _batch(tiny_lm, TEXTS)
        with record_sites(tiny_lm.model, expand_sites(["resid_post"], [1], 4), 4) as rec:
            rec.run(enc.input_ids, enc.attention_mask)
    finally:
        handle.remove()
    assert calls == []
    assert (len(layer1._forward_hooks), len(layer1._forward_pre_hooks)) == before


def test_matches_transformer_lens_bridge(tiny_dir, tiny_lm):
    from transformer_lens.model_bridge import TransformerBridge
    from transformers import AutoModelForCausalLM

    hf = AutoModelForCausalLM.from_pretrained(tiny_dir, dtype=torch.float32)
    bridge = TransformerBridge.boot_transformers(
        str(tiny_dir), hf_model=hf, tokenizer=tiny_lm.tokenizer
    )
    enc = _batch(tiny_lm, TEXTS[:1])
    names = [f"blocks.{i}.hook_resid_post" for i in range(4)]
    _, cache = bridge.run_with_cache(enc.input_ids, names_filter=lambda n: n in names)
    with record_sites(tiny_lm.model, expand_sites(["resid_post"], list(range(4)), 4), 4) as rec:
        ours = rec.run(enc.input_ids, enc.attention_mask)
    for name in names:
        torch.testing.assert_close(ours[name], cache[name], atol=ATOL, rtol=0)


def test_matches_nnsight(tiny_lm):
    import nnsight
    from nnsight.modeling.transformers import TransformersModel

    wrapped = TransformersModel(tiny_lm.model, tokenizer=tiny_lm.tokenizer, task="text-generation")
    enc = _batch(tiny_lm, TEXTS[:1])
    saved = []
    with wrapped.trace(enc.input_ids):
        for i in range(4):
            saved.append(nnsight.save(wrapped.model.layers[i].output))
    with record_sites(tiny_lm.model, expand_sites(["resid_post"], list(range(4)), 4), 4) as rec:
        ours = rec.run(enc.input_ids, enc.attention_mask)
    for i, value in enumerate(saved):
        value = value[0] if isinstance(value, tuple) else value
        torch.testing.assert_close(ours[f"blocks.{i}.hook_resid_post"], value, atol=ATOL, rtol=0)


def test_store_rows_equal_direct_forward(tiny_lm, chat_traces, tmp_path):
    config = CaptureConfig(sites=("hook_resid_post",), layers="1,3", batch_size=2)
    store = capture_traces(tiny_lm, chat_traces, config, tmp_path / "s")
    records = store.trace_records()
    ti = store.column("trace_index")
    for rec in records:
        ids = torch.tensor([rec["input_ids"]])
        with record_sites(tiny_lm.model, expand_sites(["resid_post"], [3], 4), 4) as r:
            direct = r.run(ids, torch.ones_like(ids))["blocks.3.hook_resid_post"][0]
        stored = store.get("blocks.3.hook_resid_post", traces=[rec["index"]])
        assert int((ti == rec["index"]).sum()) == len(rec["input_ids"])
        torch.testing.assert_close(stored, direct, atol=ATOL, rtol=0)
