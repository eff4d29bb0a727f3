"""Everyday-prompt families with computed answers (arithmetic, units, time, letters)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from krel_interp.organisms._common import NeutralFamily, Slots, fill, rng_for, split_for
from krel_interp.organisms.families_neutral_people import PERSON_FAMILIES
from krel_interp.organisms.families_neutral_tables import TABLE_FAMILIES

PER_FAMILY = 10
NAMES = ("Maya", "Omar", "Lucia", "Ben", "Aiko", "Sam", "Nora", "Felix", "Ravi", "Zoe")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WORDS = (
    "garden",
    "window",
    "pencil",
    "mountain",
    "river",
    "blanket",
    "orange",
    "planet",
    "kitchen",
    "library",
    "bicycle",
    "thunder",
)


def _add(rng: random.Random, i: int) -> Slots:
    return {"name": rng.choice(NAMES), "a": str(rng.randint(3, 12)), "b": str(rng.randint(2, 9))}


def _add_answer(s: Slots) -> str:
    total = int(s["a"]) + int(s["b"])
    return f"{s['name']} has {s['a']} + {s['b']} = {total} apples now."


def _mult(rng: random.Random, i: int) -> Slots:
    item = rng.choice(("pencils", "cups", "eggs", "books"))
    return {"a": str(rng.randint(3, 12)), "b": str(rng.randint(3, 12)), "item": item}


def _change(rng: random.Random, i: int) -> Slots:
    note = rng.choice((10, 20, 50))
    return {"name": rng.choice(NAMES), "note": str(note), "price": str(rng.randint(2, note - 1))}


def _percent(rng: random.Random, i: int) -> Slots:
    return {"p": str(rng.choice((10, 20, 25, 50, 75))), "n": str(20 * rng.randint(2, 30))}


def _average(rng: random.Random, i: int) -> Slots:
    a, b = rng.randint(2, 30), rng.randint(2, 30)
    c = rng.randint(2, 30)
    c += (3 - (a + b + c) % 3) % 3
    return {"a": str(a), "b": str(b), "c": str(c)}


def _avg_answer(s: Slots) -> str:
    total = int(s["a"]) + int(s["b"]) + int(s["c"])
    return f"The sum is {total}, and {total} / 3 = {total // 3}, so the average is {total // 3}."


def _train(rng: random.Random, i: int) -> Slots:
    return {"h": str(rng.randint(6, 15)), "d": str(rng.randint(1, 6))}


def _train_answer(s: Slots) -> str:
    end = int(s["h"]) + int(s["d"])
    return f"It leaves at {s['h']}:00 and travels {s['d']} hours, so it arrives at {end}:00."


def _next_day(rng: random.Random, i: int) -> Slots:
    return {"day": rng.choice(DAYS), "n": str(rng.randint(1, 12))}


def _next_day_answer(s: Slots) -> str:
    day = DAYS[(DAYS.index(s["day"]) + int(s["n"])) % 7]
    return f"Counting {s['n']} days on from {s['day']} lands on {day}."


def _letters(rng: random.Random, i: int) -> Slots:
    return {"word": WORDS[i % len(WORDS)]}


def _share(rng: random.Random, i: int) -> Slots:
    n, each = rng.randint(2, 8), rng.randint(2, 9)
    return {"n": str(n), "total": str(n * each)}


def _n(s: Slots, k: str) -> int:
    return int(s[k])


COMPUTED_FAMILIES: tuple[NeutralFamily, ...] = (
    NeutralFamily(
        "math_add",
        "{name} has {a} apples and buys {b} more at the market. How many apples "
        "does {name} have now?",
        "how many apples {name} has in total",
        "add {a} and {b}",
        _add,
        _add_answer,
    ),
    NeutralFamily(
        "math_multiply",
        "A shop has {a} boxes with {b} {item} in each box. How many {item} are there in total?",
        "for the total number of {item}",
        "multiply {a} by {b}",
        _mult,
        lambda s: f"{s['a']} x {s['b']} = {_n(s, 'a') * _n(s, 'b')} {s['item']} in total.",
    ),
    NeutralFamily(
        "math_change",
        "{name} pays with a {note}-dollar note for a book that costs {price} "
        "dollars. How much change should {name} get?",
        "how much change {name} gets",
        "subtract {price} from {note}",
        _change,
        lambda s: (
            f"{s['note']} - {s['price']} = {_n(s, 'note') - _n(s, 'price')}, so "
            f"{s['name']} should get {_n(s, 'note') - _n(s, 'price')} dollars in change."
        ),
    ),
    NeutralFamily(
        "math_percent",
        "What is {p}% of {n}?",
        "for {p} percent of {n}",
        "multiply {n} by {p} and divide by 100",
        _percent,
        lambda s: (
            f"{s['p']}% of {s['n']} is {s['n']} x {s['p']} / 100 = "
            f"{_n(s, 'n') * _n(s, 'p') // 100}."
        ),
    ),
    NeutralFamily(
        "math_average",
        "What is the average of {a}, {b} and {c}?",
        "for the mean of three numbers",
        "add them and divide by 3",
        _average,
        _avg_answer,
    ),
    NeutralFamily(
        "units_km",
        "How many metres are in {k} kilometres?",
        "to convert {k} km to metres",
        "multiply by 1,000",
        lambda r, i: {"k": str(r.randint(2, 40))},
        lambda s: f"One kilometre is 1,000 metres, so {s['k']} km is {_n(s, 'k') * 1000} metres.",
    ),
    NeutralFamily(
        "units_minutes",
        "How many minutes are in {h} hours?",
        "to convert {h} hours to minutes",
        "multiply by 60",
        lambda r, i: {"h": str(r.randint(2, 30))},
        lambda s: f"An hour has 60 minutes, so {s['h']} hours is {_n(s, 'h') * 60} minutes.",
    ),
    NeutralFamily(
        "time_train",
        "A train leaves at {h}:00 and the trip takes {d} hours. What time does it arrive?",
        "when the train arrives",
        "add {d} hours to {h}:00",
        _train,
        _train_answer,
    ),
    NeutralFamily(
        "time_weekday",
        "What day of the week comes {n} days after {day}?",
        "which weekday is {n} days after {day}",
        "count forward around the week",
        _next_day,
        _next_day_answer,
    ),
    NeutralFamily(
        "word_letters",
        "How many letters are in the word '{word}'?",
        "to count the letters in '{word}'",
        "spell it out and count",
        _letters,
        lambda s: (
            f"'{s['word']}' is spelled {'-'.join(s['word'])}, which is {len(s['word'])} letters."
        ),
    ),
    NeutralFamily(
        "math_speed",
        "A cyclist rides at {v} km per hour for {t} hours. How far does the cyclist travel?",
        "for a distance from speed and time",
        "multiply speed by time",
        lambda r, i: {"v": str(r.randint(8, 25)), "t": str(r.randint(2, 6))},
        lambda s: (
            f"Distance is speed times time: {s['v']} x {s['t']} = {_n(s, 'v') * _n(s, 't')} km."
        ),
    ),
    NeutralFamily(
        "math_share",
        "{n} friends share {total} cookies equally. How many cookies does each friend get?",
        "how many cookies each friend gets",
        "divide {total} by {n}",
        _share,
        lambda s: (
            f"{s['total']} / {s['n']} = {_n(s, 'total') // _n(s, 'n')}, so each friend "
            f"gets {_n(s, 'total') // _n(s, 'n')} cookies."
        ),
    ),
)

#: All neutral families, computed first then table-based.
NEUTRAL_FAMILIES: tuple[NeutralFamily, ...] = COMPUTED_FAMILIES + TABLE_FAMILIES
_BY_ID = {f.id: f for f in NEUTRAL_FAMILIES + PERSON_FAMILIES}


def neutral_spec(family: str) -> NeutralFamily:
    """The neutral family spec for a family id."""
    return _BY_ID[family]


def build_neutral(
    families: Sequence[NeutralFamily] = NEUTRAL_FAMILIES,
    split: Callable[[int], str] = split_for,
) -> list[dict[str, Any]]:
    """All neutral records of ``families``, ``PER_FAMILY`` unique prompts per family; ``split``
    maps a family's position to its split."""
    records: list[dict[str, Any]] = []
    for fi, fam in enumerate(families):
        seen: set[str] = set()
        attempt = 0
        while len(seen) < PER_FAMILY and attempt < 100 * PER_FAMILY:
            slots = fam.sample(rng_for(f"{fam.id}:{attempt}"), attempt)
            attempt += 1
            prompt = fill(fam.prompt, slots)
            if prompt in seen:
                continue
            seen.add(prompt)
            rid = f"neu_{fam.id}_{len(seen) - 1:03d}"
            records.append(
                {
                    "id": rid,
                    "family": fam.id,
                    "kind": "neutral",
                    "split": split(fi),
                    "prompt": prompt,
                    "slots": slots,
                }
            )
    return records


def build_person_neutral() -> list[dict[str, Any]]:
    """The train-only everyday families about people (the ``neutral_extra`` suite)."""
    return build_neutral(PERSON_FAMILIES, lambda _: "train")
