"""SAEs on tiny-qwen3: train with sae-lens on a store, resume, load in plain sae-lens, diff."""

from __future__ import annotations

import json

import pytest
import torch
from tests.helpers import make_lora_adapter

from krel_interp.capture import CaptureConfig, capture_pair, capture_traces
from krel_interp.errors import ConfigError, IncompatibleArtifactError, InputFileError
from krel_interp.models import LoadedPair, ModelSpec, load_model
from krel_interp.sae import (
    DIFF_METHODS,
    SaeTrainConfig,
    encode_latents,
    latent_activations,
    load_paired_rows,
    load_sae,
    rank_latents,
    train_sae,
)
from krel_interp.sae.data import sae_input
from krel_interp.traces import Trace

pytestmark = pytest.mark.integration
SITE = "blocks.1.hook_resid_post"
WORDS = [
    "the",
    "cat",
    "sat",
    "on",
    "a",
    "mat",
    "while",
    "seven",
    "red",
    "birds",
    "sang",
    "over",
    "quiet",
    "hills",
    "near",
    "old",
    "towns",
]


def _traces(n: int = 48) -> list[Trace]:
    g = torch.Generator().manual_seed(0)
    out = []
    for i in range(n):
        words = [WORDS[int(j)] for j in torch.randint(0, len(WORDS), (24,), generator=g)]
        text = " ".join(words)
        msgs = (
            {"role": "user", "content": f"Say something {i}."},
            {"role": "assistant", "content": f"<think>\n{text}.\n</think>\n\n{text[:40]}."},
        )
        out.append(Trace(f"t{i}", msgs, {"family": f"f{i % 6}"}))
    return out


@pytest.fixture(scope="module")
def stores(tmp_path_factory, tiny_dir):
    root = tmp_path_factory.mktemp("sae")
    adapter = make_lora_adapter(tiny_dir, root / "adapter")
    organism = load_model(ModelSpec(str(tiny_dir), adapter=str(adapter)))
    pair = LoadedPair(base=organism.as_base(), organism=organism)
    config = CaptureConfig(layers="1", batch_size=8)
    traces = _traces()
    base = capture_traces(pair.base, traces, config, root / "base_store")
    capture_pair(pair, traces, config, root / "pair")
    return root, base, pair


def _config(root, kind="base", **kw):
    store = root / ("base_store" if kind == "base" else "pair")
    base = dict(
        name=kind,
        store=str(store),
        site=SITE,
        out=str(root / f"out-{kind}"),
        kind=kind,
        d_sae=256,
        k=32,
        training_tokens=20480,
        batch_size=256,
        checkpoint_every=8,
    )
    return SaeTrainConfig(**{**base, **kw})


def test_train_save_load_in_plain_sae_lens(stores):
    from sae_lens import SAE

    root, _, _ = stores
    out = train_sae(_config(root), workdir=root / "work-base")
    card = json.loads((out / "card.json").read_text())
    assert card["data"]["rows_dropped_position"] > 0  # position 0 (the sink) is left out
    assert card["heldout"]["l0"] <= 32
    assert 0.3 < card["heldout"]["explained_variance"] <= 1
    sae = SAE.load_from_disk(str(out))
    assert sae.cfg.metadata.hook_name == SITE and sae.cfg.d_sae == 256
    loaded = load_sae(out)
    assert loaded.kind == "sae" and loaded.site == SITE
    loaded.check_fits(SITE, loaded.d_in)
    with pytest.raises(IncompatibleArtifactError, match="reads blocks.1"):
        loaded.check_fits("blocks.0.hook_resid_post", loaded.d_in)
    with pytest.raises(IncompatibleArtifactError, match="width"):
        loaded.check_fits(SITE, loaded.d_in + 1)


def test_interrupted_training_resumes_to_the_same_weights(stores):
    root, _, _ = stores
    cfg = _config(root, out=str(root / "full"))
    full = train_sae(cfg, workdir=root / "w-full")

    class Stop(Exception):
        pass

    steps = []

    def stop_after_twelve(n):
        steps.append(n)
        if len(steps) == 12:
            raise Stop

    part_cfg = cfg.with_(out=str(root / "part"))
    with pytest.raises(Stop):
        train_sae(part_cfg, workdir=root / "w-part", progress=stop_after_twelve)
    assert not (root / "part").exists()
    from safetensors import safe_open

    with safe_open(str(root / "w-part" / "checkpoint.safetensors"), framework="pt") as f:
        assert f.metadata()["n_training_steps"] == "8"  # resumes from step 8 of 80
    resumed = train_sae(part_cfg, workdir=root / "w-part")
    a = load_sae(full).sae.W_dec
    b = load_sae(resumed).sae.W_dec
    torch.testing.assert_close(a, b, atol=2e-3, rtol=0)
    with pytest.raises(ConfigError, match="another config"):
        train_sae(part_cfg.with_(k=5), workdir=root / "w-part")


def test_diff_methods_rank_and_activate(stores):
    root, _, _ = stores
    base_sae = load_sae(train_sae(_config(root), workdir=root / "w1"))
    diff = load_sae(train_sae(_config(root, "diff", d_sae=64, k=8), workdir=root / "w2"))
    cross = load_sae(
        train_sae(_config(root, "crosscoder", architecture="batchtopk"), workdir=root / "w3")
    )
    assert (diff.kind, cross.kind) == ("diff", "crosscoder") and cross.d_in == 2 * diff.d_in
    rows = load_paired_rows(root / "pair", SITE, "think")
    assert set(rows.segment.tolist()) == {4}
    for method, sae in (("base_sae_stats", base_sae), ("diff_sae", diff), ("crosscoder", cross)):
        ranking = rank_latents(method, rows, sae)
        assert len(ranking.latents) == sae.d_sae == len(set(ranking.latents))
        acts = latent_activations(ranking, sae, rows.base, rows.organism, ranking.latents[:3])
        assert acts.shape == (len(rows), 3)
        x = sae_input(sae.kind, rows.base, rows.organism)
        every = encode_latents(sae, x)  # all latents, batched, equal to one plain encode
        assert torch.equal(every, sae.sae.encode(x.float()).float())
        assert torch.equal(acts, every[:, list(ranking.latents[:3])])
        assert encode_latents(sae, x[:0], (1, 2)).shape == (0, 2)
        summary = ranking.summary()
        assert summary["method"] == method and summary["segment"] == "think"
        assert len(summary["top"]) == min(20, sae.d_sae)
    lens = rank_latents("activation_diff_lens", load_paired_rows(root / "pair", SITE), None)
    assert lens.directions is not None and lens.directions.shape[0] == len(lens.latents) == 5
    assert set(DIFF_METHODS) >= {"base_sae_stats", "diff_sae", "crosscoder"}
    with pytest.raises(IncompatibleArtifactError, match="needs a 'diff' SAE"):
        rank_latents("diff_sae", rows, base_sae)
    with pytest.raises(ConfigError, match="unknown diff method"):
        rank_latents("nope", rows, base_sae)


def test_load_errors_are_one_line(tmp_path):
    with pytest.raises(InputFileError, match="not found"):
        load_sae(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="not an sae-lens SAE directory"):
        load_sae(tmp_path / "empty")


def test_cli_train_from_toml(stores):
    from tests.integration.test_cli import run_cli

    root, _, _ = stores
    toml = root / "cli.toml"
    toml.write_text(
        f'name = "cli"\nstore = "{root / "base_store"}"\nsite = "{SITE}"\n'
        f'out = "{root / "cli-out"}"\nd_sae = 128\nk = 16\ntraining_tokens = 5120\n'
        "batch_size = 256\n"
    )
    proc = run_cli("sae", "train", str(toml), "--json")
    assert proc.returncode == 0, proc.stderr
    last = json.loads(proc.stdout.strip().splitlines()[-1])
    assert last["l0"] <= 16 and load_sae(root / "cli-out").d_sae == 128


def _prefix_explained_variance(sae, x: torch.Tensor, width: int) -> float:
    """Explained variance of ``x`` from the first ``width`` latents alone."""
    with torch.no_grad():
        acts = sae.encode(x)
        acts[:, width:] = 0
        recon = sae.decode(acts)
    return float(1 - (x - recon).pow(2).sum() / (x - x.mean(0)).pow(2).sum())


def test_matryoshka_prefix_reconstructs_alone(stores):
    from sae_lens import SAE

    from krel_interp.sae.data import load_rows

    root, _, _ = stores
    widths = (16, 64, 256)
    common = dict(k=16, training_tokens=61440)
    mat = train_sae(
        _config(root, architecture="matryoshka_batchtopk", matryoshka_widths=widths, **common),
        workdir=root / "w-mat",
    )
    flat = train_sae(
        _config(root, architecture="batchtopk", out=str(root / "out-flat"), **common),
        workdir=root / "w-flat",
    )
    plain = SAE.load_from_disk(str(mat))  # saved as JumpReLU, loads in plain sae-lens
    assert plain.cfg.d_sae == 256
    held = load_rows(str(root / "base_store"), SITE, "base").heldout.float()
    ev = {
        (name, width): _prefix_explained_variance(load_sae(path).sae, held, width)
        for name, path in (("matryoshka", mat), ("batchtopk", flat))
        for width in (widths[0], widths[-1])
    }
    # its first 16 latents stand alone (here 0.30 vs 0.08), at a similar full-width fit
    assert ev["matryoshka", 16] > ev["batchtopk", 16] + 0.1, ev
    assert ev["matryoshka", 256] > ev["batchtopk", 256] - 0.05, ev
    card = json.loads((mat / "card.json").read_text())
    assert card["config"]["matryoshka_widths"] == list(widths)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"architecture": "matryoshka_batchtopk"}, "needs matryoshka_widths"),
        ({"architecture": "matryoshka_batchtopk", "matryoshka_widths": (64, 32, 256)}, "increase"),
        ({"architecture": "matryoshka_batchtopk", "matryoshka_widths": (16, 128)}, "d_sae=256"),
        ({"matryoshka_widths": (16, 256)}, "needs architecture"),
    ],
)
def test_matryoshka_config_errors(tmp_path, changes, message):
    with pytest.raises(ConfigError, match=message):
        _config(tmp_path, **changes)
