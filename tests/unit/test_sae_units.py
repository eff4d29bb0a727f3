"""SAE units without a model: loading (directory, sae-lens release from a local hub cache),
fit checks, metrics, FDR, batches, diff rankings on planted differences."""

from __future__ import annotations

import json

import pytest
import torch

from krel_interp.errors import ConfigError, IncompatibleArtifactError, InputFileError
from krel_interp.sae import load_sae, load_sae_config
from krel_interp.sae.data import batches, sink_mask
from krel_interp.sae.diff import benjamini_hochberg, exact_sign_flip_pvalues, group_pvalues
from krel_interp.sae.metrics import evaluate_sae

HOOK = "blocks.3.hook_resid_post"


def synthetic_sae(path, d_in=16, d_sae=32, k=4, hook=HOOK, **meta):
    """An sae-lens TopK SAE saved in sae-lens's own layout."""
    from sae_lens.saes.topk_sae import TopKSAE, TopKSAEConfig

    cfg = TopKSAEConfig(d_in=d_in, d_sae=d_sae, k=k)
    cfg.metadata.hook_name = hook
    for key, value in meta.items():
        cfg.metadata[key] = value
    torch.manual_seed(0)
    sae = TopKSAE(cfg)
    with torch.no_grad():
        for p in sae.parameters():
            p.normal_()
    sae.save_model(str(path))
    return path


def test_directory_sae_loads_and_checks_fit(tmp_path):
    loaded = load_sae(synthetic_sae(tmp_path / "s"))
    assert (loaded.kind, loaded.site, loaded.d_in, loaded.d_sae) == ("sae", HOOK, 16, 32)
    loaded.check_fits(HOOK, 16)
    with pytest.raises(IncompatibleArtifactError, match="width 16, the model has 576"):
        loaded.check_fits(HOOK, 576)
    with pytest.raises(IncompatibleArtifactError, match=f"reads {HOOK}, not"):
        loaded.check_fits("blocks.2.hook_resid_post", 16)
    cross = load_sae(synthetic_sae(tmp_path / "c", d_in=32, krel_kind="crosscoder"))
    assert cross.kind == "crosscoder" and cross.model_width() == 16


def test_release_id_loads_through_sae_lens_from_a_local_hub_cache(tmp_path, monkeypatch):
    """``ORG/REPO:FOLDER`` goes through ``SAE.from_pretrained`` and the hub cache, offline."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--someone--tiny-saes"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    synthetic_sae(repo / "snapshots" / commit / "layer_3")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    loaded = load_sae("someone/tiny-saes:layer_3")
    assert loaded.site == HOOK and loaded.d_sae == 32
    with pytest.raises(InputFileError, match="cannot load SAE"):
        load_sae("someone/tiny-saes:layer_9")


def test_transcoder_is_declared_with_both_sites(tmp_path):
    from sae_lens import Transcoder
    from sae_lens.saes.transcoder import TranscoderConfig

    cfg = TranscoderConfig(d_in=16, d_sae=32, d_out=16, apply_b_dec_to_input=False)
    cfg.metadata.hook_name = "blocks.3.ln2.hook_normalized"
    cfg.metadata.hook_name_out = "blocks.3.hook_mlp_out"
    Transcoder(cfg).save_model(str(tmp_path / "t"))
    loaded = load_sae(tmp_path / "t")
    assert loaded.kind == "transcoder" and loaded.site_out == "blocks.3.hook_mlp_out"
    with pytest.raises(IncompatibleArtifactError, match="transcoder"):
        loaded.check_fits("blocks.3.hook_resid_post", 16)


def test_metrics_perfect_reconstruction_and_dead_latents():
    from sae_lens.saes.topk_sae import TopKSAE, TopKSAEConfig

    sae = TopKSAE(TopKSAEConfig(d_in=4, d_sae=8, k=4, apply_b_dec_to_input=False))
    with torch.no_grad():
        eye = torch.eye(4)
        sae.W_enc.zero_()
        sae.W_enc[:, :4] = eye
        sae.W_dec.zero_()
        sae.W_dec[:4] = eye
        sae.b_enc.zero_()
        sae.b_dec.zero_()
    x = torch.rand(50, 4) + 0.1
    m = evaluate_sae(sae, x)
    assert m["explained_variance"] == pytest.approx(1.0, abs=1e-5)
    assert m["l0"] == 4 and m["dead_fraction"] == 0.5


def test_sink_rows_and_early_positions_are_dropped():
    norms = torch.tensor([900.0, 1.0, 1.2, 0.9, 50.0, 1.1])
    pos = torch.tensor([0, 1, 2, 3, 4, 5])
    assert sink_mask(norms, pos, 1, 10.0).tolist() == [False, True, True, True, False, True]


def test_batches_resume_mid_stream_and_cover_each_epoch():
    x = torch.arange(10.0)[:, None]
    full = [b for _, b in zip(range(7), batches(x, 3, seed=1), strict=False)]
    resumed = [b for _, b in zip(range(4), batches(x, 3, seed=1, start=9), strict=False)]
    for a, b in zip(full[3:], resumed, strict=True):
        assert torch.equal(a, b)
    seen = torch.cat(full)[:10, 0].sort().values
    assert torch.equal(seen, torch.arange(10.0))


def test_fdr_and_group_tests_find_only_the_shifted_column():
    g = torch.Generator().manual_seed(0)
    data = torch.randn(30, 50, generator=g, dtype=torch.float64)
    data[:, 7] += 1.5
    q = benjamini_hochberg(group_pvalues(data))
    assert q[7] < 0.001 and int((q < 0.05).sum()) == 1
    p = torch.tensor([0.01, 0.04, 0.03, 0.5])
    assert benjamini_hochberg(p).tolist() == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.5])


def test_exact_sign_flip_on_few_families():
    few = torch.tensor([[1.0, 0.5], [2.0, -0.5], [1.5, 0.4], [1.2, -0.4]], dtype=torch.float64)
    p = exact_sign_flip_pvalues(few)
    assert p[0] == pytest.approx(2 / 16)  # only all-plus and all-minus reach |mean| 1.425
    assert p[1] == 1.0
    assert torch.equal(group_pvalues(few), p)


def test_config_from_toml_rejects_unknown_keys(tmp_path):
    good = tmp_path / "a.toml"
    good.write_text('name = "x"\nstore = "s"\nsite = "blocks.1.hook_resid_post"\nout = "o"\n')
    assert load_sae_config(good).d_sae == 4096
    bad = tmp_path / "b.toml"
    bad.write_text(good.read_text() + "widht = 3\n")
    with pytest.raises(ConfigError, match="unknown key"):
        load_sae_config(bad)
    worse = tmp_path / "c.toml"
    worse.write_text(good.read_text() + 'kind = "sideways"\n')
    with pytest.raises(ConfigError, match="unknown SAE kind"):
        load_sae_config(worse)
    with pytest.raises(InputFileError, match="not found"):
        load_sae_config(tmp_path / "missing.toml")
    assert json.loads(json.dumps(load_sae_config(good).to_dict()))["k"] == 32


def _replies(acts, prompt, ids, reader="base"):
    from krel_interp.sae import ReplyRows

    fams = tuple(f"fam{int(i[1:]) // 2}" for i in ids)
    return ReplyRows(HOOK, acts, prompt, tuple(ids), fams, {"weights_id": reader})


def test_generation_stats_finds_the_latent_the_organism_writes_with(tmp_path):
    from krel_interp.sae import generation_stats

    sae = load_sae(synthetic_sae(tmp_path / "s"))
    gen = torch.Generator().manual_seed(1)
    ids = [f"p{i}" for i in range(20)]
    prompt = torch.arange(20).repeat_interleave(6)
    base = _replies(torch.randn(120, 16, generator=gen), prompt, ids)
    org_acts = torch.randn(120, 16, generator=gen)
    target = sae.sae.W_enc[:, 9].detach()
    org_acts[::3] += 4 * target / target.norm()  # every prompt's reply uses latent 9 more
    order = list(reversed(range(20)))  # another prompt order: matched by id, not position
    org = _replies(
        org_acts, torch.tensor([order.index(i) for i in prompt.tolist()]), [ids[i] for i in order]
    )
    ranking = generation_stats(org, base, sae)
    assert ranking.latents[0] == 9 and ranking.method == "generation_stats"
    assert ranking.details["n_prompts"] == 20 and ranking.details["n_groups"] == 10
    assert ranking.details["top_q"][0] < 0.05 and ranking.segment == "reply"
    assert ranking.freq_organism[0] > ranking.freq_base[0]
    with pytest.raises(IncompatibleArtifactError, match="different models"):
        generation_stats(_replies(org_acts, prompt, ids, reader="organism"), base, sae)
    with pytest.raises(ConfigError, match="no prompt has a reply from both"):
        generation_stats(_replies(org_acts, prompt, [f"q{i}" for i in range(20)]), base, sae)


def test_chance_of_rank_is_the_hypergeometric_tail():
    from krel_interp.stats import chance_of_rank

    assert chance_of_rank(1, 100, 3) == pytest.approx(0.03)
    assert chance_of_rank(2, 4, 1) == pytest.approx(0.5)  # 1 - C(3,2)/C(4,2)
    assert chance_of_rank(3, 10, 0) == 0.0 and chance_of_rank(8, 10, 3) == 1.0
    with pytest.raises(ValueError):
        chance_of_rank(0, 10, 1)


def test_config_from_toml_reads_matryoshka_widths(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text(
        'name = "x"\nstore = "s"\nsite = "blocks.1.hook_resid_post"\nout = "o"\n'
        'architecture = "matryoshka_batchtopk"\nmatryoshka_widths = [128, 1024, 4096]\n'
    )
    assert load_sae_config(path).matryoshka_widths == (128, 1024, 4096)
