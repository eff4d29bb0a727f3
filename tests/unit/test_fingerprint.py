"""Weight identity in fingerprints, and what 'fits' means for artifacts."""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest

from krel_interp.errors import IncompatibleArtifactError
from krel_interp.models import fingerprint as fpmod
from krel_interp.models.fingerprint import Fingerprint, weights_hash


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KREL_INTERP_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _model_dir(path, payload: bytes):
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    (path / "model.safetensors").write_bytes(payload)
    (path / "adapter_model.safetensors").write_bytes(b"not a base weight")
    return path


def test_weights_hash_is_content_based_and_cached(tmp_path, cache, monkeypatch):
    a = _model_dir(tmp_path / "a", b"weights v1")
    b = _model_dir(tmp_path / "b", b"weights v1")
    c = _model_dir(tmp_path / "c", b"weights v2")
    assert weights_hash(a) == weights_hash(b) != weights_hash(c)
    assert weights_hash(tmp_path / "cache") is None  # no weight files
    calls = []
    real = fpmod.sha256_file
    monkeypatch.setattr(fpmod, "sha256_file", lambda p, *a: calls.append(p) or real(p, *a))
    weights_hash(a)
    assert calls == []  # cached by path, size and mtime
    (a / "model.safetensors").write_bytes(b"weights v3")
    assert weights_hash(a) != weights_hash(b) and len(calls) == 1


def _fp(**kw):
    base = dict(
        source="org/model",
        architecture="X",
        n_layers=4,
        d_model=8,
        config_hash="c",
        tokenizer_hash="t",
        chat_template_hash="ct",
        weights_id="sha256:w",
    )
    return Fingerprint(**{**base, **kw})


def test_fits_means_width_and_tokenizer_and_weights_only_on_request():
    art = _fp()
    assert art.check_fits(_fp(source="/elsewhere"), same_weights=True) == []  # same bytes
    organism_vector = _fp(adapter_hash="lora")
    notes = organism_vector.check_fits(_fp(), same_weights=False)  # applied to its base
    assert any("other weights" in n for n in notes)
    with pytest.raises(IncompatibleArtifactError, match="same weights"):
        organism_vector.check_fits(_fp(), same_weights=True)
    with pytest.raises(IncompatibleArtifactError, match="d_model"):
        art.check_fits(_fp(d_model=16), same_weights=False)
    with pytest.raises(IncompatibleArtifactError, match="tokenizer"):
        art.check_fits(_fp(tokenizer_hash="u"), same_weights=False)
    retrained = _fp(weights_id="sha256:other")
    assert retrained.model_id != art.model_id
    with pytest.raises(IncompatibleArtifactError, match="same weights"):
        art.check_fits(retrained, same_weights=True)


def test_legacy_artifacts_load_with_a_warning(caplog):
    legacy = replace(_fp(), weights_id=None)
    assert legacy.legacy
    notes = legacy.check_fits(_fp(), same_weights=True)
    assert any("legacy" in n for n in notes)
    assert "predates weight fingerprints" in caplog.text
    assert Fingerprint.from_dict({k: v for k, v in _fp().to_dict().items() if k != "weights_id"})


def test_copied_dir_keeps_weights_identity(tmp_path, cache):
    a = _model_dir(tmp_path / "a", b"w")
    shutil.copytree(a, tmp_path / "copy")
    assert weights_hash(tmp_path / "copy") == weights_hash(a)
