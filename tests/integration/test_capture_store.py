"""Streaming stores: resume after a crash, pooling, segment selection, paired capture, LoRA."""

from __future__ import annotations

import pytest
import torch
from tests.helpers import make_lora_adapter

from krel_interp.capture import ActivationStore, CaptureConfig, capture_pair, capture_traces
from krel_interp.errors import ConfigError, IncompatibleArtifactError
from krel_interp.models import LoadedPair, ModelSpec, load_model
from krel_interp.segments import Segment

pytestmark = pytest.mark.integration
SITE = "blocks.2.hook_resid_post"


class Crash(Exception):
    pass


def _config(**kw):
    base = dict(sites=("hook_resid_post",), layers="0,2", batch_size=2, shard_mb=0.0001)
    return CaptureConfig(**{**base, **kw})


def test_resume_after_crash_has_no_lost_or_duplicated_rows(tiny_lm, chat_traces, tmp_path):
    full = capture_traces(tiny_lm, chat_traces, _config(), tmp_path / "full")
    seen = []

    def crash_after_first_batch(n):
        seen.append(n)
        if len(seen) == 2:
            raise Crash

    with pytest.raises(Crash):
        capture_traces(
            tiny_lm, chat_traces, _config(), tmp_path / "part", progress=crash_after_first_batch
        )
    with pytest.raises(Exception, match="incomplete"):
        ActivationStore(tmp_path / "part")
    resumed = capture_traces(tiny_lm, chat_traces, _config(), tmp_path / "part")
    assert resumed.n_rows == full.n_rows
    for col in ("trace_index", "position", "token_id", "segment"):
        assert torch.equal(resumed.column(col), full.column(col))
    torch.testing.assert_close(resumed.get(SITE), full.get(SITE))
    assert len(resumed.rows()) == full.n_rows
    assert [r["id"] for r in resumed.trace_records()] == [t.id for t in chat_traces]


def test_resume_refuses_other_config(tiny_lm, chat_traces, tmp_path):
    capture_traces(tiny_lm, chat_traces[:2], _config(), tmp_path / "s")
    with pytest.raises(ConfigError, match="another config"):
        capture_traces(tiny_lm, chat_traces[:2], _config(layers="1"), tmp_path / "s")


def test_resume_refuses_other_traces_of_the_same_length(tiny_lm, chat_traces, tmp_path):
    """The count alone matched before: a different trace file of equal length was resumed."""
    seen = []

    def crash(n):
        seen.append(n)
        if len(seen) == 2:
            raise Crash

    with pytest.raises(Crash):
        capture_traces(tiny_lm, chat_traces[:4], _config(), tmp_path / "s", progress=crash)
    edited = [chat_traces[0], chat_traces[1], chat_traces[3], chat_traces[2]]
    with pytest.raises(ConfigError, match="other traces"):
        capture_traces(tiny_lm, edited, _config(), tmp_path / "s")
    assert capture_traces(tiny_lm, chat_traces[:4], _config(), tmp_path / "s").n_rows > 0


@pytest.mark.parametrize("spec", ["5-2", "2-1", ","])
def test_empty_or_reversed_layer_range_fails_before_writing(tiny_lm, chat_traces, tmp_path, spec):
    with pytest.raises(ConfigError, match="reversed|no layers|bad layer spec"):
        capture_traces(tiny_lm, chat_traces, _config(layers=spec), tmp_path / "s")
    assert not (tmp_path / "s").exists()


def test_store_dtype_follows_the_model_unless_chosen(tiny_dir, chat_traces, tmp_path):
    bf16 = load_model(ModelSpec(str(tiny_dir), dtype="bfloat16"))
    auto = capture_traces(bf16, chat_traces[:2], _config(), tmp_path / "a")
    assert auto.get(SITE).dtype == torch.bfloat16
    assert auto.header["store_dtype"] == "bfloat16"
    chosen = capture_traces(bf16, chat_traces[:2], _config(dtype="float32"), tmp_path / "f")
    assert chosen.get(SITE).dtype == torch.float32


def test_hooks_move_each_site_off_device_as_it_is_produced(tiny_lm):
    """Stand-in for GPU -> CPU: sites go to the offload device inside their own hook, so by the
    time layer k runs, the sites of earlier layers no longer live on the compute device."""
    from krel_interp.capture import Site, record_sites

    seen_at_hook: list[set[str]] = []
    ids = torch.tensor([[1, 2, 3, 4]])
    sites = [Site(layer, 3) for layer in range(4)]
    with record_sites(tiny_lm.model, sites, 4, offload="meta") as rec:
        blocks = rec._blocks

        def spy(_m, _a, _o):
            seen_at_hook.append({v.device.type for v in rec.cache.values()})

        handles = [b.register_forward_hook(spy) for b in blocks]
        try:
            acts = rec.run(ids, torch.ones_like(ids))
        finally:
            for h in handles:
                h.remove()
    assert {v.device.type for v in acts.values()} == {"meta"}
    assert all(devices <= {"meta"} for devices in seen_at_hook)


def test_segment_selection_and_pooling(tiny_lm, chat_traces, tmp_path):
    tokens = capture_traces(tiny_lm, chat_traces, _config(), tmp_path / "tok")
    think = tokens.get(SITE, segments=[Segment.THINK])
    seg_col = tokens.column("segment")
    assert think.shape[0] == int((seg_col == int(Segment.THINK)).sum()) > 0
    only = capture_traces(tiny_lm, chat_traces, _config(segments=("think",)), tmp_path / "th")
    torch.testing.assert_close(only.get(SITE), think)
    means = capture_traces(
        tiny_lm, chat_traces, _config(segments=("think",), pooling="segment_mean"), tmp_path / "m"
    )
    ti = only.column("trace_index")
    for trace_index in means.column("trace_index").unique():
        expected = think[ti == trace_index].mean(0)
        got = means.get(SITE, traces=[int(trace_index)])
        assert got.shape[0] == 1
        torch.testing.assert_close(got[0], expected, atol=1e-5, rtol=0)
    last = capture_traces(tiny_lm, chat_traces, _config(pooling="last"), tmp_path / "l")
    assert last.n_rows == len(chat_traces)


def test_bfloat16_store_and_rows_table(tiny_lm, chat_traces, tmp_path):
    store = capture_traces(tiny_lm, chat_traces, _config(dtype="bfloat16"), tmp_path / "b")
    assert store.get(SITE).dtype == torch.bfloat16
    rows = store.rows()
    assert set(rows.column_names) >= {"trace_id", "token_id", "segment_name", "sentence"}
    assert store.header["fingerprint"]["tokenizer_hash"] == tiny_lm.fingerprint.tokenizer_hash


@pytest.fixture(scope="module")
def adapter_dir(tiny_dir, tmp_path_factory):
    return make_lora_adapter(tiny_dir, tmp_path_factory.mktemp("lora") / "adapter")


def test_merged_lora_equals_unmerged(tiny_dir, adapter_dir, chat_traces, tmp_path):
    merged = load_model(ModelSpec(str(tiny_dir), adapter=str(adapter_dir), merge_adapter=True))
    unmerged = load_model(ModelSpec(str(tiny_dir), adapter=str(adapter_dir)))
    a = capture_traces(merged, chat_traces, _config(), tmp_path / "merged")
    b = capture_traces(unmerged, chat_traces, _config(), tmp_path / "unmerged")
    torch.testing.assert_close(a.get(SITE), b.get(SITE), atol=1e-5, rtol=1e-5)
    assert merged.fingerprint.adapter_hash == unmerged.fingerprint.adapter_hash is not None


def test_paired_capture_shared_weights(tiny_lm, tiny_dir, adapter_dir, chat_traces, tmp_path):
    organism = load_model(ModelSpec(str(tiny_dir), adapter=str(adapter_dir)))
    pair = LoadedPair(base=organism.as_base(), organism=organism)
    paired = capture_pair(pair, chat_traces, _config(), tmp_path / "pair")
    plain = capture_traces(tiny_lm, chat_traces, _config(), tmp_path / "plain")
    torch.testing.assert_close(paired.base.get(SITE), plain.get(SITE), atol=1e-6, rtol=0)
    assert not torch.allclose(paired.organism.get(SITE), plain.get(SITE))
    assert torch.equal(paired.base.column("token_id"), paired.organism.column("token_id"))


def test_paired_capture_refuses_different_tokenizers(tiny_lm, chat_traces, tmp_path):
    from dataclasses import replace

    other = replace(tiny_lm, fingerprint=replace(tiny_lm.fingerprint, tokenizer_hash="x"))
    with pytest.raises(IncompatibleArtifactError, match="different tokenizers"):
        capture_pair(
            LoadedPair(base=tiny_lm, organism=other), chat_traces, _config(), tmp_path / "p"
        )
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("pooling", ["token", "mean"])
def test_length_sorted_capture_stores_the_same_rows_in_order(
    tiny_lm, chat_traces, tmp_path, pooling
):
    """Sorted batching changes padding only: same rows, same order, values to rounding."""
    traces = chat_traces + chat_traces[::-1]  # mixed lengths, so sorting reorders batches
    plain = capture_traces(tiny_lm, traces, _config(pooling=pooling), tmp_path / "plain")
    seen: list[int] = []
    small = capture_traces(  # shard_mb=0.0001: windows of one batch each
        tiny_lm,
        traces,
        _config(pooling=pooling),
        tmp_path / "small",
        length_sorted=True,
    )
    whole = capture_traces(  # one window over every trace
        tiny_lm,
        traces,
        _config(pooling=pooling, shard_mb=64.0),
        tmp_path / "whole",
        length_sorted=True,
        progress=seen.append,
    )
    assert sum(seen) == len(traces) and len(seen) > 1
    for store in (small, whole):
        assert store.n_rows == plain.n_rows
        for col in ("trace_index", "position", "token_id", "segment", "sentence"):
            assert torch.equal(store.column(col), plain.column(col))
        torch.testing.assert_close(store.get(SITE), plain.get(SITE), rtol=1e-4, atol=1e-4)
        assert [r["id"] for r in store.trace_records()] == [t.id for t in traces]


def test_length_sorted_capture_resumes_after_a_crash(tiny_lm, chat_traces, tmp_path):
    full = capture_traces(tiny_lm, chat_traces, _config(), tmp_path / "full")
    seen: list[int] = []

    def crash_after_two_batches(n):
        seen.append(n)
        if len(seen) == 3:
            raise Crash

    with pytest.raises(Crash):
        capture_traces(
            tiny_lm,
            chat_traces,
            _config(),
            tmp_path / "part",
            progress=crash_after_two_batches,
            length_sorted=True,
        )
    resumed = capture_traces(tiny_lm, chat_traces, _config(), tmp_path / "part", length_sorted=True)
    assert resumed.n_rows == full.n_rows
    assert torch.equal(resumed.column("trace_index"), full.column("trace_index"))
    torch.testing.assert_close(resumed.get(SITE), full.get(SITE), rtol=1e-4, atol=1e-4)
