"""LLM judges: a Hugging Face chat model (``llm:MODEL``) or an OpenAI-compatible endpoint
(``llm:URL``, e.g. a vLLM server), with a versioned rubric and an on-disk score cache.

The score is P(yes) / (P(yes) + P(no)) for the first answer token: from the logits of a local
model, from ``top_logprobs`` of an endpoint (a server without logprobs gives 1 or 0 from the
answer's first word). The decision threshold is 0.5 unless a calibrated one is passed.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from krel_interp.errors import ConfigError, KrelError
from krel_interp.judges.base import register_backend
from krel_interp.judges.cache import ScoreCache
from krel_interp.judges.scoring import ANSWER_WORDS, yes_probability
from krel_interp.judges.traits import Trait, get_trait
from krel_interp.models.fingerprint import sha256_text

RUBRIC_VERSION = "rubric-1"
RUBRIC = (
    "You are annotating text for a research study.\n"
    "Property: {description}.\n"
    "The {unit} to judge:\n"
    '"""\n{text}\n"""\n'
    "Question: {question}\n"
    "Answer with one word: yes or no."
)


def rubric_prompt(trait: Trait, text: str) -> str:
    """The rubric filled in for one text."""
    return RUBRIC.format(
        description=trait.description, unit=trait.unit, text=text.strip(), question=trait.question
    )


def rubric_hash(trait: Trait) -> str:
    """Identity of the rubric as applied to a trait (cache key part)."""
    return sha256_text(f"{RUBRIC_VERSION}:{RUBRIC}:{trait.description}:{trait.question}")


@dataclass
class LLMJudge:
    """A rubric judge backed by a local model or an endpoint; scores are cached on disk."""

    trait: str
    model: str
    client: Any  # callable: list of prompts -> list of scores
    judge_key: str
    name: str = "llm"
    threshold: float = 0.5
    trace_threshold: float | None = None

    def score(self, texts: Sequence[str]) -> list[float]:
        """Cached scores; only texts never scored with this judge and rubric are sent."""
        trait = get_trait(self.trait)
        cache = ScoreCache(self.judge_key, rubric_hash(trait))
        todo = list(dict.fromkeys(t for t in texts if cache.get(t) is None))
        for b in range(0, len(todo), 32):
            chunk = todo[b : b + 32]
            cache.put(dict(zip(chunk, self.client(chunk, trait), strict=True)))
        return [float(cache.get(t)) for t in texts]  # type: ignore[arg-type]

    def describe(self) -> dict[str, Any]:
        """Backend, model, rubric version and hash."""
        trait = get_trait(self.trait)
        return {
            "backend": "llm",
            "trait": self.trait,
            "model": self.model,
            "judge_key": self.judge_key,
            "rubric_version": RUBRIC_VERSION,
            "rubric_hash": rubric_hash(trait),
            "threshold": self.threshold,
            "trace_threshold": self.trace_threshold,
        }


def _local_client(source: str) -> tuple[Any, str]:
    from krel_interp.models import load_model

    lm = load_model(source)

    def client(texts: Sequence[str], trait: Trait) -> list[float]:
        return yes_probability(lm, texts, lambda t: rubric_prompt(trait, t))

    return client, f"hf-{lm.fingerprint.model_id}"


def _post(url: str, body: dict[str, Any], api_key: str | None, timeout: float) -> Any:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            **({"Authorization": f"Bearer {api_key}"} if api_key else {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as exc:
        raise KrelError(f"judge endpoint {url} failed: {exc}") from exc


def _get(url: str, api_key: str | None, timeout: float) -> Any:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        request = urllib.request.Request(url, headers=headers)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as exc:
        raise KrelError(f"judge endpoint {url} failed: {exc}") from exc


def _answer_probability(choice: dict[str, Any]) -> float:
    """P(yes) from a chat-completion choice: top_logprobs if present, else the first word."""
    import math

    content = (choice.get("logprobs") or {}).get("content") or []
    if content:
        mass = {"yes": 0.0, "no": 0.0}
        for cand in content[0].get("top_logprobs") or []:
            word = str(cand.get("token", "")).strip()
            for side, forms in ANSWER_WORDS.items():
                if word in forms:
                    mass[side] += math.exp(float(cand["logprob"]))
        if mass["yes"] + mass["no"] > 0:
            return mass["yes"] / (mass["yes"] + mass["no"])
    text = str((choice.get("message") or {}).get("content") or "").strip().lower()
    return 1.0 if text.startswith("yes") else 0.0


def _endpoint_client(
    url: str, model: str | None, api_key_env: str | None, timeout: float
) -> tuple[Any, str, str]:
    api_key = None
    if api_key_env:
        api_key = os.environ.get(api_key_env)
        if not api_key:
            raise ConfigError(f"environment variable {api_key_env} is not set")
    base = url.rstrip("/")
    if model is None:
        listed = _get(f"{base}/models", api_key, timeout).get("data") or []
        if not listed:
            raise KrelError(f"judge endpoint {base} lists no models; pass --llm-model")
        model = str(listed[0]["id"])

    def client(texts: Sequence[str], trait: Trait) -> list[float]:
        out = []
        for text in texts:
            body = {
                "model": model,
                "messages": [{"role": "user", "content": rubric_prompt(trait, text)}],
                "max_tokens": 3,
                "temperature": 0,
                "logprobs": True,
                "top_logprobs": 10,
            }
            reply = _post(f"{base}/chat/completions", body, api_key, timeout)
            out.append(_answer_probability((reply.get("choices") or [{}])[0]))
        return out

    return client, model, f"api-{sha256_text(base + '|' + model)}"


@register_backend("llm")
def _llm(argument: str, trait: str, options: dict[str, Any]) -> LLMJudge:
    if not argument:
        raise ConfigError("an llm judge needs a model or URL: llm:MODEL or llm:URL")
    threshold = float(options.get("threshold") or 0.5)
    if argument.startswith(("http://", "https://")):
        client, model, key = _endpoint_client(
            argument,
            options.get("llm_model"),
            options.get("api_key_env"),
            float(options.get("timeout", 60.0)),
        )
        return LLMJudge(trait, f"{argument} ({model})", client, key, threshold=threshold)
    client, key = _local_client(argument)
    return LLMJudge(trait, argument, client, key, threshold=threshold)
