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
from krel_interp.capture.runner import Progress
from krel_interp.capture.store import quiet_datasets, write_json_atomic
from krel_interp.errors import ConfigError
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


def render_prompt(lm: LoadedModel, trace: Trace, config: GenerationConfig) -> str:
    """The chat-template prompt (with generation header) plus any prefill."""
    text = lm.tokenizer.apply_chat_template(
        trace.prompt_messages,
        tokenize=False,
        add_generation_prompt=True,
        enable_thinking=config.thinking,
    )
    return str(text) + (config.prefill or "")


def _sample_kwargs(config: GenerationConfig) -> dict[str, Any]:
    if config.temperature == 0:
        return {"do_sample": False}
    return {"do_sample": True, "temperature": config.temperature, "top_p": config.top_p}


@torch.inference_mode()
def _generate_texts(
    lm: LoadedModel,
    prompts: list[str],
    max_new: int,
    config: GenerationConfig,
    stop: list[str] | None = None,
) -> list[str]:
    tok = lm.tokenizer
    tok.padding_side = "left"
    enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    enc = {k: v.to(lm.device) for k, v in enc.items()}
    kwargs: dict[str, Any] = {}
    if stop:
        kwargs.update(stop_strings=stop, tokenizer=tok)
    with lm.active() as model:
        out = model.generate(
            **enc,
            max_new_tokens=max_new,
            pad_token_id=tok.pad_token_id,
            **_sample_kwargs(config),
            **kwargs,
        )
    new = out[:, enc["input_ids"].shape[1] :].cpu()
    return [_decode_until_eos(tok, row) for row in new]


def _decode_until_eos(tok: Any, row: torch.Tensor) -> str:
    stops = {tok.eos_token_id, tok.pad_token_id}
    ids = row.tolist()
    for i, t in enumerate(ids):
        if t in stops:
            ids = ids[:i]
            break
    return str(tok.decode(ids, skip_special_tokens=False))


def generate_batch(
    lm: LoadedModel, traces: Sequence[Trace], config: GenerationConfig, batch_index: int = 0
) -> list[Trace]:
    """Generate completions for one batch of prompts."""
    torch.manual_seed(config.seed + batch_index)
    prompts = [render_prompt(lm, t, config) for t in traces]
    prefill = config.prefill or ""
    if config.max_think_tokens is None:
        texts = _generate_texts(lm, prompts, config.max_new_tokens, config)
    else:
        close = config.think_close.strip()
        thoughts = _generate_texts(lm, prompts, config.max_think_tokens, config, stop=[close])
        thoughts = [t if close in t else t + config.think_close for t in thoughts]
        thoughts = [t[: t.index(close) + len(close)] + "\n\n" for t in thoughts]
        answers = _generate_texts(
            lm,
            [p + t for p, t in zip(prompts, thoughts, strict=True)],
            config.max_answer_tokens,
            config,
        )
        texts = [t + a for t, a in zip(thoughts, answers, strict=True)]
    meta = {
        "generation": asdict(config),
        "model": lm.fingerprint.to_dict(),
        "seed": config.seed + batch_index,
    }
    return [
        t.with_completion(prefill + text, **meta) for t, text in zip(traces, texts, strict=True)
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
) -> list[Trace]:
    """Generate completions for ``traces`` into ``out_dir/traces.jsonl`` (resumable).

    Also writes ``generation.json`` (config, fingerprint) and ``dataset/`` (datasets table).
    Resuming is refused when the existing rollouts came from another model or config;
    ``overwrite`` starts afresh instead.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "traces.jsonl"
    if overwrite:
        path.unlink(missing_ok=True)
        shutil.rmtree(out / "dataset", ignore_errors=True)
    done = _done_ids(path)
    meta = {"config": asdict(config), "fingerprint": lm.fingerprint.to_dict()}
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
                        {"id": t.id, "messages": list(t.messages), **t.meta},
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
    old = {"config": first.get("generation"), "fingerprint": first.get("model")}
    stale = [k for k in ("config", "fingerprint") if old[k] != meta[k]]
    ids = [str(r.get("id")) for r in done]
    if len(ids) > len(traces) or ids != [t.id for t in traces[: len(ids)]]:
        stale.append("prompt list")
    if stale:
        raise ConfigError(
            f"{out} holds rollouts made with another {' and '.join(stale)}; "
            "pass --overwrite (overwrite=True) or use a new output directory"
        )


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
