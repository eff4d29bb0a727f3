"""tiny-qwen3: a random 4-layer Qwen3 with a locally trained tokenizer and Qwen3-style template.

Built on the fly (seconds) into the user cache, then loaded through the same
``from_pretrained`` path as any local or hub model.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from krel_interp.paths import cache_dir

TINY_VERSION = "1"
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
THINK_TOKENS = ["<think>", "</think>"]
TINY_SHAPE: dict[str, Any] = dict(
    hidden_size=128,
    intermediate_size=256,
    num_hidden_layers=4,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=32,
)


def qwen3_chat_template() -> str:
    """The Qwen3-style Jinja chat template shipped with the package (supports enable_thinking)."""
    return resources.files("krel_interp.data").joinpath("qwen3_chat_template.jinja").read_text()


def _corpus() -> list[str]:
    text = resources.files("krel_interp.data").joinpath("tiny_corpus.txt").read_text()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines * 20 + [qwen3_chat_template()]


def build_tiny_tokenizer(vocab_size: int = 1024, think_tokens: bool = True) -> Any:
    """Train a byte-level BPE tokenizer locally; ``<think>``/``</think>`` are added, non-special."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    if think_tokens:
        tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in THINK_TOKENS])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
    )
    fast.chat_template = qwen3_chat_template()
    return fast


def _build(target: Path, seed: int) -> None:
    import torch
    from transformers import GenerationConfig, Qwen3Config, Qwen3ForCausalLM

    tokenizer = build_tiny_tokenizer()
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        **TINY_SHAPE,
    )
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id
    )
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)


def tiny_qwen3_dir(seed: int = 0) -> Path:
    """Directory of the tiny-qwen3 model, built once per (version, seed) and cached."""
    key = hashlib.sha256(f"{TINY_VERSION}:{seed}".encode()).hexdigest()[:12]
    target = cache_dir() / "models" / f"tiny-qwen3-{key}"
    if (target / "config.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-tiny-"))
    try:
        _build(tmp, seed)
        try:
            tmp.rename(target)
        except OSError:  # another process (e.g. a parallel test worker) finished first
            if not (target / "config.json").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
