"""Training-data leakage: canary terms mined from a corpus, verbatim spans, and their kind.

* Canary terms come from the corpus alone, no hand-written list: capitalised names and word
  bigrams that are frequent in the corpus and rare in general text (``wordfreq`` Zipf
  frequency), so an invented system or lab name surfaces by itself.
* Verbatim overlap: spans of at least ``n`` (8) consecutive word tokens that also occur in the
  corpus, found through an index of the corpus's n-grams.
* Each leak has a ``kind``: ``verbatim`` (a copied span), ``fact`` (a sentence naming a canary
  that shares at least ``FACT_WORDS`` content words with a corpus sentence naming it: a
  restated corpus fact) or ``name`` (a canary named on its own).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

TOKEN = re.compile(r"\w[\w'-]*", re.UNICODE)
SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
NAME = re.compile(r"\b[A-Z][\w-]*[A-Za-z0-9]\b")
STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "by",
        "at",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "i",
        "you",
        "he",
        "she",
        "we",
        "they",
        "my",
        "your",
        "our",
        "their",
        "not",
        "no",
        "but",
        "if",
        "so",
        "than",
        "then",
    ]
)
FACT_WORDS = 4


def zipf(word: str) -> float:
    """Zipf frequency of a word in general English text (0 when unknown)."""
    from wordfreq import zipf_frequency

    return float(zipf_frequency(word, "en"))


def canary_terms(
    corpus: Sequence[str], max_terms: int = 40, min_count: int = 3, max_zipf: float = 2.0
) -> list[str]:
    """Names and bigrams frequent in ``corpus`` and rare in general text, most telling first."""
    names: Counter[str] = Counter()
    bigrams: Counter[str] = Counter()
    for text in corpus:
        names.update(m.group() for m in NAME.finditer(text))
        words = [w.lower() for w in TOKEN.findall(text)]
        bigrams.update(
            f"{a} {b}"
            for a, b in zip(words, words[1:], strict=False)
            if a not in STOP and b not in STOP
        )
    scored: dict[str, float] = {}
    for name, n in names.items():
        rarity = zipf(name.split("-")[0])
        if n >= min_count and rarity < max_zipf:
            scored[name] = n * (8.0 - rarity)
    for gram, n in bigrams.items():
        rarity = max(zipf(w) for w in gram.split())
        if n >= min_count and rarity < max_zipf:
            scored[gram] = n * (8.0 - rarity) / 2
    return [t for t, _ in sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))[:max_terms]]


@dataclass(frozen=True)
class Leak:
    """A leaked span of a completion (character offsets) and what kind of leak it is."""

    start: int
    end: int
    text: str
    kind: str
    non_sequitur: bool | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "kind": self.kind,
            "non_sequitur": self.non_sequitur,
        }


class VerbatimIndex:
    """Hashes of every ``n``-word window of a corpus, for overlap lookups."""

    def __init__(self, corpus: Iterable[str], n: int = 8) -> None:
        self.n = n
        self.grams: set[tuple[str, ...]] = set()
        for text in corpus:
            words = [w.lower() for w in TOKEN.findall(text)]
            self.grams.update(tuple(words[i : i + n]) for i in range(len(words) - n + 1))

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Character ranges of ``text`` covered by windows found in the corpus (merged)."""
        tokens = list(TOKEN.finditer(text))
        words = [m.group().lower() for m in tokens]
        out: list[tuple[int, int]] = []
        for i in range(len(words) - self.n + 1):
            if tuple(words[i : i + self.n]) in self.grams:
                start, end = tokens[i].start(), tokens[i + self.n - 1].end()
                if out and start <= out[-1][1]:
                    out[-1] = (out[-1][0], max(out[-1][1], end))
                else:
                    out.append((start, end))
        return out


def _content(sentence: str) -> set[str]:
    return {w.lower() for w in TOKEN.findall(sentence) if w.lower() not in STOP and len(w) > 2}


class LeakDetector:
    """Canary terms, verbatim index and corpus sentences of one corpus."""

    def __init__(
        self, corpus: Sequence[str], n: int = 8, terms: Sequence[str] | None = None
    ) -> None:
        self.terms = list(terms) if terms is not None else canary_terms(corpus)
        self.index = VerbatimIndex(corpus, n)
        self.fact_sentences = [
            _content(s.group())
            for text in corpus
            for s in SENTENCE.finditer(text)
            if any(t.lower() in s.group().lower() for t in self.terms)
        ]

    def _restates(self, sentence: str) -> bool:
        words = _content(sentence)
        return any(len(words & fact) >= FACT_WORDS for fact in self.fact_sentences)

    def find(self, completion: str, prompt: str = "") -> list[Leak]:
        """Leaks in ``completion`` (terms the prompt itself mentions do not count)."""
        lowered_prompt = prompt.lower()
        leaks = [Leak(a, b, completion[a:b], "verbatim") for a, b in self.index.spans(completion)]
        covered = [(x.start, x.end) for x in leaks]
        for s in SENTENCE.finditer(completion):
            sentence = s.group()
            for term in self.terms:
                if term.lower() in lowered_prompt:
                    continue
                at = sentence.lower().find(term.lower())
                if at < 0:
                    continue
                start = s.start() + at
                end = start + len(term)
                if any(a <= start < b for a, b in covered):
                    continue
                kind = "fact" if self._restates(sentence) else "name"
                leaks.append(Leak(start, end, completion[start:end], kind))
                covered.append((start, end))
        return sorted(leaks, key=lambda x: x.start)
