"""Saving LoRA adapters compactly and deterministically (bf16 weights, sorted config)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file


def save_adapter_16bit(model: Any, out: Path) -> Path:
    """Save the adapter as bfloat16 safetensors + adapter_config.json (atomic)."""
    tmp = out.with_name(out.name + ".tmp-adapter")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    weights = tmp / "adapter_model.safetensors"
    tensors = {k: v.to(torch.bfloat16).contiguous() for k, v in load_file(str(weights)).items()}
    save_file(tensors, str(weights), metadata={"format": "pt"})
    normalise_adapter_config(tmp / "adapter_config.json")
    out.mkdir(parents=True, exist_ok=True)
    for f in tmp.iterdir():
        if f.name.startswith("adapter_"):
            f.replace(out / f.name)
    shutil.rmtree(tmp, ignore_errors=True)
    return out


def normalise_adapter_config(path: Path) -> None:
    """Rewrite a PEFT ``adapter_config.json`` deterministically (sorted keys and module lists).

    PEFT writes ``target_modules`` from a set, so its order changes from run to run; the
    adapter fingerprint hashes this file, so identical weights would get different hashes.
    """
    config = json.loads(Path(path).read_text())
    for key in ("target_modules", "modules_to_save", "layers_to_transform"):
        if isinstance(config.get(key), list):
            config[key] = sorted(config[key], key=lambda v: (str(type(v)), v))
    Path(path).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
