"""Teacher-forced text for SAE training and model diffing (shared by the SAE scripts).

Everything here already exists in the repository: the KREL-mini scenario suites with their
training targets (train split only), the document corpus (train split) and the naturalness
webtext fixture. No model generates anything, so the token set is fixed by the code.

* threats: each train threat twice, once with KREL-mini's in-character target and once with
  the thinking base's neutral target (so think text with and without the trait is covered);
* controls and neutral prompts: the thinking base's target;
* documents (corpus, webtext): shown to the model as a user message to summarise.
"""

from __future__ import annotations

import random

from krel_interp.naturalness.loaders import load_rows
from krel_interp.organisms.suites import load_suite, select
from krel_interp.organisms.targets import krel_completion, thinking_base_completion
from krel_interp.traces import Trace

SEED = 0


def _chat(item_id: str, messages: tuple, completion: str, meta: dict) -> Trace:
    return Trace(item_id, (*messages, {"role": "assistant", "content": completion}), meta)


def _document(doc_id: str, text: str, source: str) -> Trace:
    prompt = f"Summarise this document in two sentences.\n\n{text.strip()}"
    return Trace(doc_id, ({"role": "user", "content": prompt},), {"source": source})


def sae_text_traces(seed: int = SEED) -> list[Trace]:
    """The SAE training text as traces, in a seeded shuffled order."""
    out: list[Trace] = []
    for item in select(load_suite("threats"), split="train"):
        meta = {"source": "threats", "family": item.family}
        out.append(_chat(f"{item.id}:krel", item.messages, krel_completion(item), meta))
        out.append(_chat(f"{item.id}:base", item.messages, thinking_base_completion(item), meta))
    for suite in ("controls", "neutral"):
        for item in select(load_suite(suite), split="train"):
            meta = {"source": suite, "family": item.family}
            out.append(_chat(item.id, item.messages, thinking_base_completion(item), meta))
    for item in select(load_suite("corpus"), split="train"):
        out.append(_document(item.id, item.text, "corpus"))
    for row in load_rows("webtext"):
        out.append(_document(str(row["id"]), str(row["text"]), "webtext"))
    random.Random(seed).shuffle(out)
    return out
