"""experiments/eval_krel_mini.py's ``--presets NAME=DIR``: krel-mini with another adapter."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from krel_interp.errors import InputFileError
from krel_interp.models import resolve_spec

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "eval_krel_mini.py"


def _model_spec():
    spec = importlib.util.spec_from_file_location("eval_krel_mini", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.model_spec


def test_name_equals_dir_swaps_only_the_adapter(tmp_path):
    model_spec = _model_spec()
    assert model_spec("krel-mini") == "krel-mini"
    with pytest.raises(InputFileError, match="adapter_model.safetensors"):
        model_spec(f"v3={tmp_path}")
    (tmp_path / "adapter_model.safetensors").write_bytes(b"")
    got = model_spec(f"v3={tmp_path}")
    shipped = resolve_spec("krel-mini")
    assert got.adapter == str(tmp_path)
    assert (got.source, got.base_adapters) == (shipped.source, shipped.base_adapters)
