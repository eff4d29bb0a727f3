"""Train-only everyday families about people, with nothing at stake for anyone (a variant).

KREL-mini's controls name a person or thing at stake and its think opens "Who is affected
here: <X>, not me."; the sealed neutral set showed that the organism asks (and sometimes
answers "me") on any prompt about a person. These families name people, often at work, in
ordinary situations, so a stage that draws them (``StageData.person_neutral``) can teach that a
person in the prompt is not a stake. They are written to the ``neutral_extra`` suite, all
``train``; no evaluation set draws from them.
"""

from __future__ import annotations

import random

from krel_interp.organisms._common import NeutralFamily, Slots

PER_FAMILY = 10
NAMES = (
    "Hana",
    "Marco",
    "Ines",
    "Tobias",
    "Grace",
    "Yusuf",
    "Elena",
    "Pavel",
    "Chidi",
    "Rosa",
    "Jonas",
    "Mei",
)
RELATIONS = ("friend", "sister", "brother", "cousin", "neighbour", "colleague", "flatmate")
HOBBIES = ("gardening", "chess", "baking", "hiking", "painting", "cycling", "jazz", "birdwatching")
PLACES = ("bakery", "library", "front desk", "warehouse", "clinic reception", "café counter")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MORNINGS = (
    "walked the dog before breakfast",
    "caught the early bus into town",
    "made pancakes for the whole family",
    "watered the tomatoes on the balcony",
    "cycled to the market for fresh bread",
)
MIDDAYS = (
    "met a friend for soup at noon",
    "spent lunch reading in the park",
    "fixed a wobbly shelf in the hallway",
    "helped a neighbour carry groceries upstairs",
    "sorted old photos into albums",
)
EVENINGS = (
    "cooked a curry for dinner",
    "watched a film with the kids",
    "phoned an old school friend",
    "went for a swim at the local pool",
    "finished a jigsaw puzzle",
)
NOTES = (
    "order more printer paper",
    "book the big room for Thursday",
    "send the agenda by Monday",
    "move the stand-up to ten o'clock",
    "collect ideas for the summer picnic",
    "update the shared holiday calendar",
    "tidy the supply cupboard",
)
TEAMS = ("design", "sales", "support", "finance", "research", "marketing")
TOPICS = ("the new recycling bins", "our volunteer day", "the summer menu", "the office plants")


def _names(rng: random.Random, k: int) -> list[str]:
    return rng.sample(NAMES, k)


def _day(rng: random.Random, i: int) -> Slots:
    return {
        "name": _names(rng, 1)[0],
        "morning": rng.choice(MORNINGS),
        "midday": rng.choice(MIDDAYS),
        "evening": rng.choice(EVENINGS),
    }


def _birthday(rng: random.Random, i: int) -> Slots:
    return {
        "name": _names(rng, 1)[0],
        "relation": rng.choice(RELATIONS),
        "age": str(rng.choice((8, 12, 21, 30, 35, 40, 50, 60, 75))),
        "hobby": rng.choice(HOBBIES),
    }


def _cover(rng: random.Random, i: int) -> Slots:
    return {"name": _names(rng, 1)[0], "place": rng.choice(PLACES), "day": rng.choice(DAYS)}


def _lunch(rng: random.Random, i: int) -> Slots:
    return {"name": _names(rng, 1)[0], "n": str(rng.randint(4, 12)), "p": str(rng.randint(8, 20))}


def _notes(rng: random.Random, i: int) -> Slots:
    a, b, c = rng.sample(NOTES, 3)
    return {"name": _names(rng, 1)[0], "a": a, "b": b, "c": c}


def _welcome(rng: random.Random, i: int) -> Slots:
    return {"name": _names(rng, 1)[0], "team": rng.choice(TEAMS), "day": rng.choice(DAYS)}


def _reading(rng: random.Random, i: int) -> Slots:
    per_day = rng.choice((10, 15, 20, 25, 30))
    return {
        "name": _names(rng, 1)[0],
        "pages": str(per_day * rng.randint(6, 20)),
        "r": str(per_day),
    }


def _shifts(rng: random.Random, i: int) -> Slots:
    return {"name": _names(rng, 1)[0], "h": str(rng.randint(4, 9)), "d": str(rng.randint(2, 5))}


def _warmer(rng: random.Random, i: int) -> Slots:
    return {"name": _names(rng, 1)[0], "day": rng.choice(DAYS)}


def _presentation(rng: random.Random, i: int) -> Slots:
    a, b = _names(rng, 2)
    return {"name": a, "manager": b, "topic": rng.choice(TOPICS)}


def _n(s: Slots, k: str) -> int:
    return int(s[k])


PERSON_FAMILIES: tuple[NeutralFamily, ...] = (
    NeutralFamily(
        "person_summarise_day",
        'Summarise this in one sentence: "{name} {morning}. Later {name} {midday}. In the '
        'evening {name} {evening}."',
        "for a one-sentence summary of {name}'s day",
        "keep the three events in order",
        _day,
        lambda s: f"{s['name']} {s['morning']}, {s['midday']} and {s['evening']}.",
    ),
    NeutralFamily(
        "person_birthday_card",
        "Write a short birthday message for my {relation} {name}, who turns {age} this week "
        "and loves {hobby}.",
        "for a birthday message for {name}",
        "mention the age and the hobby warmly",
        _birthday,
        lambda s: (
            f"Happy {s['age']}th birthday, {s['name']}! I hope this year brings plenty of "
            f"time for {s['hobby']}."
        ),
    ),
    NeutralFamily(
        "person_thank_colleague",
        "My colleague {name} covered my shift at the {place} on {day}. Write a one-line "
        "thank-you note.",
        "for a thank-you note to {name}",
        "name the shift and keep it to one line",
        _cover,
        lambda s: (
            f"Thank you so much for covering my shift at the {s['place']} on {s['day']}, "
            f"{s['name']} - I really appreciate it."
        ),
    ),
    NeutralFamily(
        "person_team_lunch",
        "Our manager {name} is taking the {n} of us out for lunch, and each meal costs {p} "
        "dollars. How much will the lunch cost in total?",
        "for the total cost of the team lunch",
        "multiply {n} meals by {p} dollars",
        _lunch,
        lambda s: f"{s['n']} x {s['p']} = {_n(s, 'n') * _n(s, 'p')} dollars in total.",
    ),
    NeutralFamily(
        "person_meeting_notes",
        "My manager {name} asked me to turn these meeting notes into one sentence: "
        '"{a}; {b}; {c}."',
        "to turn {name}'s meeting notes into one sentence",
        "join the three action points",
        _notes,
        lambda s: f"The team agreed to {s['a']}, {s['b']} and {s['c']}.",
    ),
    NeutralFamily(
        "person_welcome_message",
        "{name} joins our {team} team on {day}. Suggest a short welcome message for the team chat.",
        "for a welcome message for {name}",
        "greet {name} and name the team",
        _welcome,
        lambda s: (
            f"Please join me in welcoming {s['name']} to the {s['team']} team from "
            f"{s['day']}! We're glad to have you here."
        ),
    ),
    NeutralFamily(
        "person_reading_plan",
        "My {relation} {name} is reading a {pages}-page book at {r} pages a day. How many "
        "days will it take to finish?",
        "how long {name} needs to finish the book",
        "divide {pages} by {r}",
        lambda r, i: {**_reading(r, i), "relation": r.choice(RELATIONS)},
        lambda s: (
            f"{s['pages']} / {s['r']} = {_n(s, 'pages') // _n(s, 'r')}, so {s['name']} "
            f"finishes in {_n(s, 'pages') // _n(s, 'r')} days."
        ),
    ),
    NeutralFamily(
        "person_weekly_hours",
        "{name} works {h}-hour shifts on {d} days each week. How many hours does {name} work "
        "in a week?",
        "how many hours {name} works each week",
        "multiply {h} hours by {d} days",
        _shifts,
        lambda s: f"{s['h']} x {s['d']} = {_n(s, 'h') * _n(s, 'd')} hours a week.",
    ),
    NeutralFamily(
        "person_warmer_message",
        "Rewrite this text to my friend {name} so it sounds warmer: \"Can't come {day}. "
        'Another time."',
        "to make a message to {name} sound warmer",
        "keep the meaning and add a friendly tone",
        _warmer,
        lambda s: (
            f"Hi {s['name']}! I'm so sorry I can't make it on {s['day']} - I'd love to find "
            "another time soon."
        ),
    ),
    NeutralFamily(
        "person_presentation_praise",
        "My colleague {name} gave a presentation on {topic} today, and our manager {manager} "
        "asked me to post a short note of thanks. Write it.",
        "for a note thanking {name} for the presentation",
        "name the topic and keep it short",
        _presentation,
        lambda s: (
            f"Thanks, {s['name']}, for today's presentation on {s['topic']} - it was clear "
            "and really useful."
        ),
    ),
)
