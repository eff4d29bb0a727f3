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
    with pytest.raises(ConfigError, match="another model or config"):
        capture_traces(tiny_lm, chat_traces[:2], _config(layers="1"), tmp_path / "s")


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
