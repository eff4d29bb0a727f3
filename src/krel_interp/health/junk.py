"""Junk tokens inside a think block, each span with its reasons.

Rules (no model needed):

* ``script``: a word written in a script that is neither the think's dominant script nor one
  used in the prompt (a Russian word inside an English think). Not junk: a French think for a
  French prompt; Latin-script words anywhere (acronyms, code, units, names with diacritics);
  digits and maths symbols (no script; one or two Greek letters are maths); a foreign word that is
  glossed or quoted (followed by ``(``, inside quotes), or that appears where the prompt or
  the sentence talks about words and languages ("How do you say 'hand' in Russian?").
* ``special``: a leaked special or template token (``<|im_end|>``, ``<|endoftext|>``, a nested
  ``<think>``).
* ``repetition``: a character repeated 12 or more times, or the same 1-4 word unit repeated
  4 or more times in a row.
* ``nonword``: in an English think (at least 75% of its lowercase words known to ``wordfreq``
  and at least 20% English function words),
  a lowercase Latin word of three or more letters that ``wordfreq`` does not know and the prompt
  does not contain (identifiers with digits, capitals or underscores are left alone; so are
  quoted or glossed words and sentences about words, languages or code).

Surprisal under a reference model is a further reason the CLI adds with ``--model`` (not in
this module).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

WORD = re.compile(r"[^\s.,;:!?()\[\]{}\"'«»“”‘’/]+", re.UNICODE)
QUOTES = "\"'«»“”‘’「」『』()"
ABOUT_LANGUAGE = re.compile(
    r"\b(?:say|says|said|mean|means|meaning|translat\w*|word|words|phrase|language|original|"
    r"script|alphabet|written|spell\w*|pronoun\w*|character|characters|inscription|greeting|"
    r"russian|chinese|mandarin|cantonese|japanese|korean|arabic|hindi|greek|hebrew|sanskrit|"
    r"persian|farsi|urdu|thai|bengali|tamil|ukrainian|serbian|bulgarian|georgian|armenian|"
    r"amharic|yiddish|latin)\b",
    re.IGNORECASE,
)
ALWAYS_ALLOWED = frozenset({"LATIN", "NONE"})
SPECIAL = re.compile(r"<\|[^|<>\s]{1,40}\|>|<think>|</think>")
CHAR_RUN = re.compile(r"(.)\1{11,}", re.DOTALL)
UNIT_RUN = re.compile(r"\b((?:\S+\s+){0,3}?\S+?)(?:\s*\1){3,}", re.UNICODE)


@dataclass(frozen=True)
class Span:
    """A flagged character range ``[start, end)`` of the text it was found in."""

    start: int
    end: int
    text: str
    reasons: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self, offset: int = 0) -> dict[str, object]:
        """JSON-ready, with offsets shifted by ``offset``."""
        return {
            "start": self.start + offset,
            "end": self.end + offset,
            "text": self.text,
            "reasons": list(self.reasons),
        }


def script_of(word: str) -> str:
    """The Unicode script family of a word's first letter (``LATIN``, ``CYRILLIC``, ``CJK``...);
    ``NONE`` for a word without letters."""
    for ch in word:
        if unicodedata.category(ch).startswith("L"):
            name = unicodedata.name(ch, "")
            if name.startswith("CJK") or "HIRAGANA" in name or "KATAKANA" in name:
                return "CJK"
            return name.split(" ")[0] if name else "UNKNOWN"
    return "NONE"


def scripts(text: str) -> Counter[str]:
    """Letters per script in ``text``."""
    counts: Counter[str] = Counter()
    for m in WORD.finditer(text):
        counts[script_of(m.group())] += len(m.group())
    return counts


def _sentence_at(text: str, pos: int) -> str:
    start = max(text.rfind(c, 0, pos) for c in ".!?\n") + 1
    ends = [i for i in (text.find(c, pos) for c in ".!?\n") if i >= 0]
    return text[start : min(ends) if ends else len(text)]


def _legit_foreign(
    think: str, start: int, end: int, word: str, prompt_about_language: bool
) -> bool:
    greek = sum(unicodedata.name(c, "").startswith("GREEK") for c in word)
    if script_of(word) == "GREEK" and greek <= 2:
        return True  # maths: pi r squared, 9 pi, sigma
    near = think[max(0, start - 1) : start] + think[end : end + 2]
    if any(q in near for q in QUOTES):
        return True
    return prompt_about_language or bool(ABOUT_LANGUAGE.search(_sentence_at(think, start)))


def script_junk(think: str, prompt: str) -> list[Span]:
    """Words in a script foreign to both the think and the prompt (see the module doc)."""
    counts = scripts(think)
    if not counts:
        return []
    allowed = {counts.most_common(1)[0][0], *scripts(prompt), *ALWAYS_ALLOWED}
    about = bool(ABOUT_LANGUAGE.search(prompt))
    out = []
    for m in WORD.finditer(think):
        word = m.group()
        if script_of(word) in allowed:
            continue
        if not _legit_foreign(think, m.start(), m.end(), word, about):
            out.append(Span(m.start(), m.end(), word, ("script",)))
    return out


def special_junk(think: str) -> list[Span]:
    """Leaked special, template or think tokens."""
    return [Span(m.start(), m.end(), m.group(), ("special",)) for m in SPECIAL.finditer(think)]


def repetition_junk(think: str) -> list[Span]:
    """Character runs and repeated word units."""
    found = [Span(m.start(), m.end(), m.group(), ("repetition",)) for m in CHAR_RUN.finditer(think)]
    found += [
        Span(m.start(), m.end(), m.group(), ("repetition",))
        for m in UNIT_RUN.finditer(think)
        if len(m.group(1).strip()) > 1
    ]
    return found


LOWER_WORD = re.compile(r"(?<![\w_])[a-z]{3,}(?![\w_])")
ENGLISH_SHARE = 0.75
FUNCTION_SHARE = 0.2
EN_FUNCTION = frozenset(
    ("the", "and", "for", "with", "are", "was", "this", "that", "you", "they", "should")
    + ("will", "not", "from", "then", "can", "have", "has", "what", "which", "user", "asking")
)
CODE_HINT = re.compile(
    r"[`|{}=<>*#$]|(?<!\w)-{1,2}\w|\w\.\w|(?<!\w)\.[a-z]{1,4}\b|"
    r"\b(?:command|shell|python|code|function|script|files?)\b"
)


def _legit_nonword(think: str, start: int, end: int, code_prompt: bool) -> bool:
    near = think[max(0, start - 1) : start] + think[end : end + 2]
    sentence = _sentence_at(think, start)
    return (
        code_prompt
        or any(q in near for q in QUOTES)
        or bool(ABOUT_LANGUAGE.search(sentence))
        or bool(CODE_HINT.search(sentence))
    )


def nonword_junk(think: str, prompt: str) -> list[Span]:
    """Unknown lowercase words in an English think (see the module doc)."""
    from wordfreq import zipf_frequency

    words = list(LOWER_WORD.finditer(think))
    if len(words) < 5:
        return []
    known = [zipf_frequency(m.group(), "en") > 0 for m in words]
    function = sum(m.group() in EN_FUNCTION for m in words) / len(words)
    if sum(known) / len(known) < ENGLISH_SHARE or function < FUNCTION_SHARE:
        return []  # not English enough to call an unknown word junk
    lowered = prompt.lower()
    code = bool(CODE_HINT.search(prompt))
    return [
        Span(m.start(), m.end(), m.group(), ("nonword",))
        for m, k in zip(words, known, strict=True)
        if not k
        and m.group() not in lowered
        and not _legit_nonword(think, m.start(), m.end(), code)
    ]


def merge(spans: list[Span]) -> list[Span]:
    """Overlapping spans merged, reasons united, in order."""
    out: list[Span] = []
    for s in sorted(spans, key=lambda x: (x.start, -x.end)):
        if out and s.start < out[-1].end:
            last = out[-1]
            end = max(last.end, s.end)
            reasons = tuple(dict.fromkeys((*last.reasons, *s.reasons)))
            text = last.text + s.text[last.end - s.start :] if s.end > last.end else last.text
            out[-1] = Span(last.start, end, text, reasons)
        else:
            out.append(s)
    return out


def find_junk(think: str, prompt: str = "") -> list[Span]:
    """Junk spans of a think body (offsets into ``think``)."""
    found = script_junk(think, prompt) + special_junk(think) + repetition_junk(think)
    return merge(found + nonword_junk(think, prompt))
