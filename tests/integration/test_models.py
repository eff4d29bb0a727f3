"""Model loading through every source kind, offline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from krel_interp.errors import ConfigError, KrelError
from krel_interp.models import ModelSpec, get_preset, list_presets, load_model, resolve_source

pytestmark = pytest.mark.integration


def test_presets_cover_design_card():
    names = {p.name for p in list_presets()}
    assert {"qwen3-4b", "krel", "smollm2-135m", "tiny-qwen3"} <= names
    krel = get_preset("krel").pair
    assert krel is not None and krel.base.source == "Qwen/Qwen3-4B"
    assert krel.organism.source == "matonski/self-preservation-KREL-Qwen3-4B"
    with pytest.raises(ConfigError, match="unknown preset"):
        get_preset("nope")


def test_source_kinds(tiny_dir, tmp_path):
    assert resolve_source("Qwen/Qwen3-4B").kind == "hub"
    assert resolve_source(str(tiny_dir)).kind == "local"
    with pytest.raises(ConfigError, match="no config.json"):
        resolve_source(str(tmp_path))
    with pytest.raises(ConfigError, match="GGUF file not found"):
        resolve_source(str(tmp_path / "x.gguf"))
    with pytest.raises(ConfigError, match="unknown model source"):
        resolve_source("not a model")


def test_local_dir_fingerprint_matches_preset(tiny_dir, tiny_lm):
    lm = load_model(ModelSpec(str(tiny_dir)))
    assert lm.fingerprint.config_hash == tiny_lm.fingerprint.config_hash
    assert lm.fingerprint.tokenizer_hash == tiny_lm.fingerprint.tokenizer_hash
    assert lm.fingerprint.chat_template_hash is not None
    assert (lm.n_layers, lm.d_model) == (4, 128)
    assert lm.supports_thinking
    assert str(lm.model.dtype) == "torch.float32"


def test_hub_id_offline_without_cache_is_one_line_error(monkeypatch):
    with pytest.raises(KrelError, match="krel-test/absent is not in the local Hugging Face cache"):
        load_model("krel-test/absent")


def test_hub_id_loads_from_hub_cache(tiny_dir, tmp_path):
    """The hub-id path (as for Qwen/Qwen3-4B) on a local hub cache holding tiny-qwen3."""
    snap = tmp_path / "hub" / "models--krel-test--tiny-qwen3" / "snapshots" / ("0" * 40)
    shutil.copytree(tiny_dir, snap)
    (snap.parents[1] / "refs").mkdir()
    (snap.parents[1] / "refs" / "main").write_text("0" * 40)
    code = (
        "from krel_interp.models import load_model; lm = load_model('krel-test/tiny-qwen3');"
        "print(lm.meta['kind'], lm.n_layers, lm.fingerprint.tokenizer_hash)"
    )
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    kind, n_layers, tok_hash = proc.stdout.split()[-3:]
    assert (kind, n_layers) == ("hub", "4")
    code = "from krel_interp.models import load_model; print(load_model('krel-test/tiny-qwen3')"
    code += ".fingerprint.weights_id)"
    env.pop("HF_HUB_OFFLINE")  # cached: loads from the snapshot without touching the network
    env["HF_ENDPOINT"] = "https://unreachable.invalid"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-1] == "hub:krel-test/tiny-qwen3@" + "0" * 40


def test_dtype_override(tiny_dir):
    lm = load_model(ModelSpec(str(tiny_dir), dtype="bfloat16"))
    assert str(lm.model.dtype) == "torch.bfloat16"


def test_adapter_dir_as_source_finds_its_base(tiny_dir, tmp_path):
    from tests.helpers import make_lora_adapter

    adapter = make_lora_adapter(tiny_dir, tmp_path / "adapter")
    lm = load_model(str(adapter))
    assert lm.spec.adapter == str(adapter)
    assert lm.fingerprint.adapter_hash is not None
    base = lm.as_base()
    assert base.adapter_disabled and base.fingerprint.adapter_hash is None


def test_embedded_smollm2_loads_from_gguf():
    lm = load_model("smollm2-135m")
    assert (lm.n_layers, lm.d_model) == (30, 576)
    assert lm.fingerprint.architecture == "LlamaForCausalLM"
    assert lm.meta["kind"] == "builtin"
    ids = lm.tokenizer("Hello", return_tensors="pt").input_ids
    assert lm.model(ids).logits.shape[:2] == ids.shape
