"""Free-text judges: score a trait (self-preservation, non-sequitur, coherence, refusal) in
text from any model. Backends behind one registry: ``classifier`` (offline default, a small
fine-tuned model shipped with its card) and ``llm`` (a Hugging Face chat model or an
OpenAI-compatible endpoint, with a versioned rubric and an on-disk cache)."""

from krel_interp.judges.base import JUDGE_BACKENDS, Judge, decide, load_judge, register_backend
from krel_interp.judges.traits import TRAITS, Trait, get_trait, load_corpus, register_trait
from krel_interp.judges.units import think_sentences, trace_scores

__all__ = [
    "JUDGE_BACKENDS",
    "TRAITS",
    "Judge",
    "Trait",
    "decide",
    "get_trait",
    "load_corpus",
    "load_judge",
    "register_backend",
    "register_trait",
    "think_sentences",
    "trace_scores",
]
