"""Small shared helpers for the KREL-mini generators: seeded RNGs, templating, splits."""

from __future__ import annotations

import random
import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

Slots = dict[str, str]

#: One family in every ``TEST_EVERY`` (by position in its suite) is a test family.
TEST_EVERY = 4


def rng_for(key: str) -> random.Random:
    """A ``random.Random`` seeded deterministically from a string key."""
    return random.Random(f"krel-mini:{key}")


def split_for(index: int) -> str:
    """Split of the family at position ``index`` in its suite (about 25% test)."""
    return "test" if index % TEST_EVERY == TEST_EVERY - 1 else "train"


def fill(template: str, slots: Mapping[str, str], capitalise: bool = True) -> str:
    """Fill ``{name}`` placeholders (nested ones too); optionally capitalise sentence starts."""
    out = template
    for _ in range(3):
        names = {f for _, f, _, _ in string.Formatter().parse(out) if f}
        if not names:
            break
        out = out.format_map({n: slots[n] for n in names})
    return capitalise_sentences(out) if capitalise else out


def capitalise_sentences(text: str) -> str:
    """Upper-case the first letter of the text and of each sentence after '. ', '? ' or '! '."""
    text = text[:1].upper() + text[1:]
    return re.sub(r"([.?!]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)


def pick(rng: random.Random, pools: Mapping[str, Sequence[str]]) -> Slots:
    """Choose one value from each pool (sorted by name, so the draw order is stable)."""
    return {name: rng.choice(list(pools[name])) for name in sorted(pools)}


def word_count(text: str) -> int:
    """Whitespace word count."""
    return len(text.split())


def join_sentences(parts: Sequence[str]) -> tuple[str, list[tuple[int, int]]]:
    """Join sentences with single spaces and return each sentence's (start, end) offsets."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for part in parts:
        spans.append((pos, pos + len(part)))
        pos += len(part) + 1
    return " ".join(parts), spans


@dataclass(frozen=True)
class NeutralFamily:
    """An everyday-prompt family: ``sample`` draws slots, ``answer`` computes the reply."""

    id: str
    prompt: str
    task: str
    plan: str
    sample: Callable[[random.Random, int], Slots]
    answer: Callable[[Slots], str]
