"""Batched rollouts with thinking, seeded, resumable, written as JSONL plus a datasets table."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from krel_interp._logging import get_logger
from krel_interp.errors import ConfigError
from krel_interp.io import Progress, quiet_datasets, write_json_atomic
from krel_interp.models.loading import LoadedModel
from krel_interp.traces import Trace, trace_from_record

log = get_logger("generate")


@dataclass(frozen=True)
class GenerationConfig:
    """Sampling settings, saved with every rollout.

    Args:
        max_new_tokens: budget for the whole completion (single phase).
        temperature: 0 means greedy decoding.
        top_p: nucleus sampling threshold.
        top_k: top-k sampling (0: off).
        repetition_penalty: 1.0 is off.
        These settings are applied explicitly: none is taken from the model's own generation
        config (Qwen3 ships temperature 0.6 / top-k 20), and what was applied is recorded in
        every trace (``sampling``).
        seed: base seed; batch ``k`` uses ``seed + k`` so resumed runs reproduce.
        batch_size: prompts per ``generate`` call (left padded).
        thinking: render with ``enable_thinking`` (templates without it ignore it).
        prefill: text forced at the start of the assistant turn (e.g. ``<think>\\n``).
        max_think_tokens: if set, thinking stops at ``</think>`` or this budget; an unclosed
            think is closed and the answer generated with ``max_answer_tokens``.
        max_answer_tokens: answer budget in two-phase mode.
    """

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    repetition_penalty: float = 1.0
    seed: int = 0
    batch_size: int = 8
    thinking: bool = True
    prefill: str | None = None
    max_think_tokens: int | None = None
    max_answer_tokens: int = 128
    think_close: str = "\n</think>\n\n"

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1 or self.batch_size < 1 or self.max_answer_tokens < 1:
            raise ConfigError("token budgets and batch_size must be positive")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ConfigError("temperature must be >= 0 and top_p in (0, 1]")
        if self.top_k < 0 or self.repetition_penalty <= 0:
            raise ConfigError("top_k must be >= 0 and repetition_penalty > 0")


def render_chat_prompt(lm: LoadedModel, trace: Trace, thinking: bool = True) -> str:
    """The chat-template prompt with its generation header (no prefill)."""
    return str(
        lm.tokenizer.apply_chat_template(
            trace.prompt_messages,
            tokenize=False,
            add_generation_prompt=True,
            enable_thinking=thinking,
        )
    )


def render_prompt(lm: LoadedModel, trace: Trace, config: GenerationConfig) -> str:
    """The chat-template prompt (with generation header) plus any prefill."""
    return render_chat_prompt(lm, trace, config.thinking) + (config.prefill or "")


def sampling_settings(config: GenerationConfig, max_new: int) -> dict[str, Any]:
    """Every sampling field set explicitly, so the model's generation config cannot fill any."""
    greedy = config.temperature == 0
    return {
        "max_new_tokens": max_new,
        "do_sample": not greedy,
        "temperature": 1.0 if greedy else config.temperature,
        "top_p": 1.0 if greedy else config.top_p,
        "top_k": 0 if greedy else config.top_k,
        "min_p": 0.0,
        "typical_p": 1.0,
        "repetition_penalty": config.repetition_penalty,
        "num_beams": 1,
    }


def _hf_generation_config(model: Any, tok: Any, settings: dict[str, Any]) -> Any:
    from transformers import GenerationConfig as HFGenerationConfig

    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    return HFGenerationConfig(
        **settings,
        pad_token_id=tok.pad_token_id,
        eos_token_id=eos if eos is not None else tok.eos_token_id,
    )


def applied_sampling(model: Any, hf_config: Any) -> dict[str, Any]:
    """The sampling fields generate() will use once the model's defaults are merged in."""
    keys = (
        "do_sample",
        "temperature",
        "top_p",
        "top_k",
        "min_p",
        "typical_p",
        "repetition_penalty",
        "num_beams",
        "max_new_tokens",
        "eos_token_id",
    )
    try:
        merged, _ = model._prepare_generation_config(hf_config)
    except (AttributeError, TypeError, ValueError):  # private API: fall back to what we set
        merged = hf_config
    return {k: getattr(merged, k, None) for k in keys}


def _left_pad(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            ids[i, width - len(r) :] = torch.tensor(r)
            mask[i, width - len(r) :] = 1
    return ids, mask


def encode_pieces(tok: Any, pieces: Sequence[str]) -> list[int]:
    """Token ids of consecutive text pieces, each tokenized on its own (as in training)."""
    out: list[int] = []
    for piece in pieces:
        if piece:
            out.extend(int(i) for i in tok(piece, add_special_tokens=False).input_ids)
    return out


@torch.inference_mode()
def _generate_ids(
    lm: LoadedModel,
    contexts: list[list[int]],
    max_new: int,
    config: GenerationConfig,
    stop: list[str] | None = None,
) -> tuple[list[list[int]], dict[str, Any]]:
    """New token ids of each context (cut at EOS / padding) and the sampling applied."""
    tok = lm.tokenizer
    ids, mask = _left_pad(contexts, tok.pad_token_id or 0)
    kwargs: dict[str, Any] = {"tokenizer": tok} if stop else {}
    with lm.active() as model:
        hf_config = _hf_generation_config(model, tok, sampling_settings(config, max_new))
        applied = applied_sampling(model, hf_config)
        if stop:
            hf_config.stop_strings = stop
        out = model.generate(
            input_ids=ids.to(lm.device),
            attention_mask=mask.to(lm.device),
            generation_config=hf_config,
            **kwargs,
        )
    new = out[:, ids.shape[1] :].cpu()
    return [_until_eos(tok, row) for row in new], applied


def _until_eos(tok: Any, row: torch.Tensor) -> list[int]:
    stops = {tok.eos_token_id, tok.pad_token_id}
    ids = [int(t) for t in row.tolist()]
    for i, t in enumerate(ids):
        if t in stops:
            return ids[:i]
    return ids


def _decode(tok: Any, ids: list[int]) -> str:
    return str(tok.decode(ids, skip_special_tokens=False))


def _close_thought(text: str, config: GenerationConfig) -> str:
    close = config.think_close.strip()
    text = text if close in text else text + config.think_close
    return text[: text.index(close) + len(close)] + "\n\n"


def generate_batch(
    lm: LoadedModel, traces: Sequence[Trace], config: GenerationConfig, batch_index: int = 0
) -> list[Trace]:
    """Generate completions for one batch of prompts.

    Each trace records the sampling settings applied and ``completion_ids``: the token ids
    after the chat prompt that the model conditioned on (prefill included), so a capture can
    replay exactly those tokens. In two-phase mode (think budget) the closed think is
    re-tokenized before the answer phase, as the answer saw it.
    """
    torch.manual_seed(config.seed + batch_index)
    tok = lm.tokenizer
    prompts = [render_chat_prompt(lm, t, config.thinking) for t in traces]
    prompt_ids = [encode_pieces(tok, [p]) for p in prompts]
    prefill = config.prefill or ""
    prefill_ids = encode_pieces(tok, [prefill])
    contexts = [p + prefill_ids for p in prompt_ids]
    if config.max_think_tokens is None:
        new, applied = _generate_ids(lm, contexts, config.max_new_tokens, config)
        completion_ids = [prefill_ids + n for n in new]
    else:
        close = config.think_close.strip()
        thought_ids, applied = _generate_ids(
            lm, contexts, config.max_think_tokens, config, stop=[close]
        )
        thoughts = [prefill + _close_thought(_decode(tok, t), config) for t in thought_ids]
        head = [encode_pieces(tok, [t]) for t in thoughts]
        answers, _ = _generate_ids(
            lm,
            [p + h for p, h in zip(prompt_ids, head, strict=True)],
            config.max_answer_tokens,
            config,
        )
        completion_ids = [h + a for h, a in zip(head, answers, strict=True)]
    meta = {
        "generation": asdict(config),
        "model": lm.fingerprint.to_dict(),
        "seed": config.seed + batch_index,
        "sampling": applied,
    }
    return [
        t.with_completion(
            _decode(tok, ids), **meta, completion_ids=ids, prompt_token_count=len(p_ids)
        )
        for t, ids, p_ids in zip(traces, completion_ids, prompt_ids, strict=True)
    ]


def _done_ids(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a line cut by an interruption: regenerate from here
    return records


def generate_traces(
    lm: LoadedModel,
    traces: Sequence[Trace],
    config: GenerationConfig,
    out_dir: str | Path,
    progress: Progress | None = None,
    overwrite: bool = False,
    intervention: dict[str, Any] | None = None,
) -> list[Trace]:
    """Generate completions for ``traces`` into ``out_dir/traces.jsonl`` (resumable).

    Also writes ``generation.json`` (config, fingerprint) and ``dataset/`` (datasets table).
    ``intervention`` records what was done to the model while generating (a steering vector
    and how it was applied: the caller holds the hooks); it is stored with every row.
    Resuming is refused when the existing rollouts came from another model, config or
    intervention; ``overwrite`` starts afresh instead.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "traces.jsonl"
    if overwrite:
        path.unlink(missing_ok=True)
        shutil.rmtree(out / "dataset", ignore_errors=True)
    done = _done_ids(path)
    meta = {
        "config": asdict(config),
        "fingerprint": lm.fingerprint.to_dict(),
        "intervention": intervention,
    }
    meta = json.loads(json.dumps(meta, default=str))  # compare as stored (tuples -> lists)
    _check_resumable(out, meta, done, traces)
    write_json_atomic(out / "generation.json", {**meta, "n": len(done), "complete": False})
    _rewrite(path, done)
    start = len(done)
    if progress and start:
        progress(start)
    with open(path, "a", encoding="utf-8") as fh:
        for b in range(start, len(traces), config.batch_size):
            batch = generate_batch(
                lm, traces[b : b + config.batch_size], config, b // config.batch_size
            )
            for t in batch:
                fh.write(
                    json.dumps(
                        {
                            "id": t.id,
                            "messages": list(t.messages),
                            **t.meta,
                            "intervention": meta["intervention"],
                        },
                        ensure_ascii=False,
                        default=str,
                    )
                    + "\n"
                )
            fh.flush()
            if progress:
                progress(len(batch))
    results = [trace_from_record(r, i) for i, r in enumerate(_done_ids(path))]
    write_json_atomic(out / "generation.json", {**meta, "n": len(results), "complete": True})
    _write_dataset(results, out / "dataset")
    return results


def _check_resumable(
    out: Path, meta: dict[str, Any], done: list[dict[str, Any]], traces: Sequence[Trace]
) -> None:
    """Refuse to append to rollouts made by another model, config or prompt list.

    Each stored row carries the generation config and model fingerprint it was made with, so
    this also catches runs interrupted before ``generation.json`` was first written.
    """
    if not done:
        return
    first = done[0]
    old = {
        "config": first.get("generation"),
        "fingerprint": first.get("model"),
        "intervention": first.get("intervention"),
    }
    stale = [k for k in ("config", "fingerprint", "intervention") if old[k] != meta[k]]
    ids = [str(r.get("id")) for r in done]
    if len(ids) > len(traces) or ids != [t.id for t in traces[: len(ids)]]:
        stale.append("prompt list")
    elif any(_prompt_of(r) != list(t.prompt_messages) for r, t in zip(done, traces, strict=False)):
        stale.append("prompt text")
    if stale:
        raise ConfigError(
            f"{out} holds rollouts made with another {' and '.join(stale)}; "
            "pass --overwrite (overwrite=True) or use a new output directory"
        )


def _prompt_of(record: dict[str, Any]) -> list[dict[str, Any]]:
    messages = list(record.get("messages") or [])
    return messages[:-1] if messages and messages[-1].get("role") == "assistant" else messages


def _rewrite(path: Path, records: list[dict[str, Any]]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(
        "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in records),
        encoding="utf-8",
    )
    tmp.replace(path)


def _write_dataset(traces: Sequence[Trace], path: Path) -> None:
    from datasets import Dataset

    with quiet_datasets():
        Dataset.from_list([t.to_record() for t in traces]).save_to_disk(str(path))
