"""Site parsing, layer specs, pooling and trace files, without a model."""

from __future__ import annotations

import json

import pytest
import torch

from krel_interp.capture.config import CaptureConfig
from krel_interp.capture.pooling import POOLERS, TokenInfo, apply_groups, get_pooler
from krel_interp.capture.sites import expand_sites, parse_layers, parse_site
from krel_interp.errors import ConfigError, InputFileError
from krel_interp.segments import Segment
from krel_interp.traces import load_traces, save_traces


def test_parse_site_and_errors():
    site = parse_site("blocks.3.hook_resid_post", n_layers=4)
    assert (site.layer, site.kind, site.name) == (3, "hook_resid_post", "blocks.3.hook_resid_post")
    with pytest.raises(ConfigError, match="did you mean hook_resid_post"):
        parse_site("blocks.3.hook_resid_pots", 4)
    with pytest.raises(ConfigError, match="layer 4 out of range"):
        parse_site("blocks.4.hook_resid_post", 4)
    with pytest.raises(ConfigError, match="bad site name"):
        parse_site("resid_post", 4)


def test_parse_layers():
    assert parse_layers("all", 4) == [0, 1, 2, 3]
    assert parse_layers("0,2", 4) == [0, 2]
    assert parse_layers("1-3", 4) == [1, 2, 3]
    assert parse_layers("0.5", 36) == [18]
    with pytest.raises(ConfigError, match="bad layer spec"):
        parse_layers("x", 4)
    with pytest.raises(ConfigError, match="out of range"):
        parse_layers("2-9", 4)


def test_sites_in_forward_order():
    names = [s.name for s in expand_sites(["resid_post", "resid_pre", "mlp_out"], [1, 0], 2)]
    assert names == [
        "blocks.0.hook_resid_pre",
        "blocks.0.hook_mlp_out",
        "blocks.0.hook_resid_post",
        "blocks.1.hook_resid_pre",
        "blocks.1.hook_mlp_out",
        "blocks.1.hook_resid_post",
    ]


def _info():
    seg = torch.tensor([0, 2, 2, 4, 4, 4, 6, 6, 0], dtype=torch.int8)
    sent = torch.tensor([-1, -1, -1, 0, 0, 1, 2, 2, -1], dtype=torch.int32)
    return TokenInfo(seg, sent), seg


def test_poolers_against_hand_computed_means():
    info, seg = _info()
    acts = torch.arange(9 * 2, dtype=torch.float32).reshape(9, 2)
    select = torch.isin(seg, torch.tensor([4, 6], dtype=torch.int8))
    token = apply_groups(acts, get_pooler("token")(select, info))
    torch.testing.assert_close(token, acts[3:8])
    seg_mean = apply_groups(acts, get_pooler("segment_mean")(select, info))
    torch.testing.assert_close(seg_mean, torch.stack([acts[3:6].mean(0), acts[6:8].mean(0)]))
    sent_mean = apply_groups(acts, get_pooler("sentence_mean")(select, info))
    expected = torch.stack([acts[3:5].mean(0), acts[5], acts[6:8].mean(0)])
    torch.testing.assert_close(sent_mean, expected)
    torch.testing.assert_close(apply_groups(acts, get_pooler("last")(select, info)), acts[7:8])
    torch.testing.assert_close(
        apply_groups(acts, get_pooler("mean")(select, info)), acts[3:8].mean(0, keepdim=True)
    )
    nothing = torch.zeros(9, dtype=torch.bool)
    for name in POOLERS:
        assert get_pooler(name)(nothing, info).membership.shape[0] == 0


def test_config_validation():
    with pytest.raises(ConfigError, match="unknown pooling"):
        CaptureConfig(pooling="median")
    with pytest.raises(ConfigError, match="unknown segment"):
        CaptureConfig(segments=("thinking",))
    assert CaptureConfig(segments=("think", "answer")).segment_filter == (
        Segment.THINK,
        Segment.ANSWER,
    )


def test_trace_files_round_trip_and_errors(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(
        json.dumps({"id": "a", "prompt": "hi", "completion": "<think>x</think>y", "kind": "threat"})
        + "\n"
    )
    (trace,) = load_traces(path)
    assert trace.completion == "<think>x</think>y" and trace.meta == {"kind": "threat"}
    save_traces([trace], tmp_path / "u.jsonl")
    assert load_traces(tmp_path / "u.jsonl")[0].messages == trace.messages
    (tmp_path / "bad.jsonl").write_text('{"id": 1}\n')
    with pytest.raises(InputFileError, match="needs a 'prompt' or 'messages'"):
        load_traces(tmp_path / "bad.jsonl")
    (tmp_path / "dup.jsonl").write_text('{"id": 1, "prompt": "a"}\n{"id": 1, "prompt": "b"}\n')
    with pytest.raises(InputFileError, match="duplicate"):
        load_traces(tmp_path / "dup.jsonl")


def test_chunked_safetensors_round_trip(tmp_path):
    from safetensors import safe_open

    from krel_interp.capture.safetensors_io import save_chunks

    big = torch.randn(5, 3)
    chunks = {
        "a": [big[:2], big[2:2], big[2:]],  # views, including an empty one
        "b": [torch.arange(4, dtype=torch.int8), torch.tensor([7], dtype=torch.int8)],
        "c": [torch.randn(2, 4).to(torch.bfloat16)],
    }
    save_chunks(chunks, tmp_path / "x.safetensors", {"format": "pt"})
    with safe_open(str(tmp_path / "x.safetensors"), framework="pt") as f:
        assert f.metadata() == {"format": "pt"}
        assert torch.equal(f.get_tensor("a"), big)
        assert f.get_tensor("b").tolist() == [0, 1, 2, 3, 7]
        assert torch.equal(f.get_tensor("c"), chunks["c"][0])
    assert not list(tmp_path.glob(".*tmp"))
