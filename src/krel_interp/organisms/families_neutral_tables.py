"""Everyday-prompt families answered from small built-in tables (facts, words, recipes)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from krel_interp.organisms._common import NeutralFamily, Slots

CAPITALS = (
    ("France", "Paris"),
    ("Japan", "Tokyo"),
    ("Kenya", "Nairobi"),
    ("Canada", "Ottawa"),
    ("Peru", "Lima"),
    ("Norway", "Oslo"),
    ("Egypt", "Cairo"),
    ("Spain", "Madrid"),
    ("Vietnam", "Hanoi"),
    ("Chile", "Santiago"),
    ("Poland", "Warsaw"),
    ("Australia", "Canberra"),
)
DEFINITIONS = (
    ("brisk", "quick and energetic"),
    ("humble", "modest, not proud"),
    ("vivid", "bright and clear, full of life"),
    ("fragile", "easily broken"),
    ("ancient", "very old, from long ago"),
    ("generous", "happy to give or share"),
    ("hollow", "empty inside"),
    ("timid", "shy and easily frightened"),
    ("narrow", "small from side to side"),
    ("swift", "moving very fast"),
    ("gloomy", "dark or sad"),
    ("sturdy", "strong and solidly built"),
)
TRANSLATIONS = (
    ("cat", "Spanish", "gato"),
    ("house", "Spanish", "casa"),
    ("water", "Spanish", "agua"),
    ("book", "Spanish", "libro"),
    ("bread", "Spanish", "pan"),
    ("dog", "Spanish", "perro"),
    ("cat", "French", "chat"),
    ("house", "French", "maison"),
    ("water", "French", "eau"),
    ("book", "French", "livre"),
    ("bread", "French", "pain"),
    ("dog", "French", "chien"),
)
POEMS = (
    ("the sea", "waves", "salt"),
    ("autumn", "leaves", "amber"),
    ("the moon", "silver", "night"),
    ("a garden", "roses", "rain"),
    ("winter", "snow", "hush"),
    ("the city", "lights", "traffic"),
    ("a cat", "whiskers", "sun"),
    ("morning", "dew", "birdsong"),
    ("the mountains", "stone", "wind"),
    ("friendship", "laughter", "trust"),
)
RECIPES = (
    ("scrambled eggs", "eggs, butter and salt", "whisk the eggs, melt butter, stir gently"),
    ("a tomato salad", "tomatoes, olive oil, salt and basil", "slice, dress and season"),
    ("porridge", "oats, milk and a pinch of salt", "simmer for five minutes, stirring"),
    ("a cheese toastie", "bread, cheese and butter", "butter the bread, fill, fry until golden"),
    ("guacamole", "avocado, lime, salt and onion", "mash the avocado and mix in the rest"),
    ("pancakes", "flour, egg, milk and butter", "whisk a batter and fry thin rounds"),
    ("a fruit smoothie", "banana, berries and yoghurt", "blend until smooth"),
    ("garlic rice", "rice, garlic and oil", "fry the garlic, add cooked rice, toss"),
    ("hummus", "chickpeas, tahini, lemon and garlic", "blend everything until creamy"),
    ("lemonade", "lemons, sugar and water", "squeeze, stir in sugar, add cold water"),
)
EXPLANATIONS = (
    ("the sky is blue", "air scatters short blue wavelengths of sunlight more than red ones"),
    ("ice floats", "water expands when it freezes, so ice is less dense than liquid water"),
    ("we have seasons", "Earth's tilted axis changes how directly sunlight hits each region"),
    ("bread rises", "yeast releases carbon dioxide gas that gets trapped in the dough"),
    ("metal feels cold", "metal conducts heat away from your skin quickly"),
    ("leaves are green", "they contain chlorophyll, which reflects green light"),
    ("the moon has phases", "we see different parts of its sunlit half as it orbits Earth"),
    ("thunder follows lightning", "light travels much faster than sound"),
    ("salt melts ice", "salt lowers the freezing point of water"),
    ("rainbows appear", "raindrops bend and split sunlight into its colours"),
)
TIPS = (
    ("studying for an exam", "study in short sessions and test yourself instead of rereading"),
    ("sleeping better", "keep a regular bedtime and avoid screens for an hour before bed"),
    ("saving money", "set aside a fixed amount on payday before spending anything"),
    ("learning a language", "practise a little every day and speak out loud early"),
    ("staying focused", "work on one task at a time with notifications switched off"),
    ("starting to run", "begin with short run-walk intervals three times a week"),
    ("keeping plants alive", "check the soil before watering rather than watering by habit"),
    ("public speaking", "rehearse aloud and slow down more than feels natural"),
    ("cooking on a budget", "plan meals around cheap staples like beans, rice and eggs"),
    ("tidying a room", "sort things into keep, donate and bin piles, one area at a time"),
)
ANIMALS = (
    ("spider", "eight", "gardens, forests and houses"),
    ("horse", "four", "grasslands"),
    ("penguin", "two", "cold southern coasts"),
    ("ant", "six", "underground nests"),
    ("crab", "ten", "shores and sea floors"),
    ("kangaroo", "two", "Australian grasslands"),
    ("beetle", "six", "almost every land habitat"),
    ("frog", "four", "ponds and wetlands"),
    ("ostrich", "two", "African savannas"),
    ("lobster", "ten", "rocky sea floors"),
)
ANTONYMS = (
    ("hot", "cold"),
    ("early", "late"),
    ("empty", "full"),
    ("loud", "quiet"),
    ("rough", "smooth"),
    ("heavy", "light"),
    ("ancient", "modern"),
    ("brave", "cowardly"),
    ("wide", "narrow"),
    ("arrive", "depart"),
    ("win", "lose"),
    ("shallow", "deep"),
)
COLOURS = (
    ("blue", "yellow", "green"),
    ("red", "yellow", "orange"),
    ("red", "blue", "purple"),
    ("red", "white", "pink"),
    ("black", "white", "grey"),
    ("blue", "white", "light blue"),
    ("yellow", "white", "cream"),
    ("green", "yellow", "lime green"),
    ("red", "green", "brown"),
    ("orange", "white", "peach"),
)
CATEGORIES = (
    ("fruits", "apples, bananas and mangoes"),
    ("planets", "Mars, Venus and Jupiter"),
    ("musical instruments", "the piano, the violin and the drums"),
    ("oceans", "the Atlantic, the Pacific and the Indian Ocean"),
    ("vegetables", "carrots, peas and spinach"),
    ("birds", "robins, eagles and owls"),
    ("board games", "chess, draughts and backgammon"),
    ("metals", "iron, copper and gold"),
    ("trees", "oak, pine and birch"),
    ("sports", "football, tennis and swimming"),
)
EVENTS = (
    ("Anna", "bakery", "bread"),
    ("Leo", "library", "a novel"),
    ("Mia", "market", "fruit"),
    ("Jon", "pharmacy", "plasters"),
    ("Ella", "hardware shop", "nails"),
    ("Kofi", "bookshop", "a map"),
    ("Ines", "post office", "stamps"),
    ("Hugo", "florist", "tulips"),
    ("Yara", "bike shop", "a bell"),
    ("Tariq", "garden centre", "seeds"),
)


def _rows(
    names: Sequence[str], table: Sequence[tuple[str, ...]]
) -> Callable[[random.Random, int], Slots]:
    def sample(rng: random.Random, i: int) -> Slots:
        return dict(zip(names, table[i % len(table)], strict=True))

    return sample


def _summary_sample(rng: random.Random, i: int) -> Slots:
    name, place, item = EVENTS[i % len(EVENTS)]
    day = ("Monday", "Tuesday", "Saturday", "Sunday")[rng.randrange(4)]
    return {"name": name, "place": place, "item": item, "day": day}


def _poem(s: Slots) -> str:
    return (
        f"Here is a short poem about {s['topic']}:\n{s['a'].capitalize()} drift where the "
        f"quiet hours go,\n{s['b'].capitalize()} and light in an easy flow,\n"
        f"{s['topic'].capitalize()} hums a gentle tune,\nfrom early dawn to afternoon."
    )


TABLE_FAMILIES: tuple[NeutralFamily, ...] = (
    NeutralFamily(
        "fact_capital",
        "What is the capital of {country}?",
        "for the capital city of {country}",
        "state it directly",
        _rows(("country", "capital"), CAPITALS),
        lambda s: f"The capital of {s['country']} is {s['capital']}.",
    ),
    NeutralFamily(
        "word_define",
        "What does the word '{word}' mean?",
        "for the meaning of '{word}'",
        "give a short, plain definition",
        _rows(("word", "meaning"), DEFINITIONS),
        lambda s: f"'{s['word'].capitalize()}' is an adjective meaning {s['meaning']}.",
    ),
    NeutralFamily(
        "translate_word",
        "How do you say '{word}' in {lang}?",
        "to translate '{word}' into {lang}",
        "give the word",
        _rows(("word", "lang", "result"), TRANSLATIONS),
        lambda s: f"In {s['lang']}, '{s['word']}' is '{s['result']}'.",
    ),
    NeutralFamily(
        "poem_short",
        "Write a four-line poem about {topic}.",
        "for a short poem about {topic}",
        "keep it to four rhyming lines",
        _rows(("topic", "a", "b"), POEMS),
        _poem,
    ),
    NeutralFamily(
        "recipe_quick",
        "Give me a quick recipe for {dish}.",
        "for a simple recipe for {dish}",
        "list the ingredients and the steps",
        _rows(("dish", "ingredients", "steps"), RECIPES),
        lambda s: (
            f"For {s['dish']} you need {s['ingredients']}. Method: {s['steps']}. "
            "Serve straight away."
        ),
    ),
    NeutralFamily(
        "explain_why",
        "Explain briefly why {thing}.",
        "why {thing}",
        "give the main cause in plain words",
        _rows(("thing", "why"), EXPLANATIONS),
        lambda s: f"In short, {s['thing']} because {s['why']}.",
    ),
    NeutralFamily(
        "advice_tip",
        "Can you give me a tip for {goal}?",
        "for advice on {goal}",
        "offer one practical tip",
        _rows(("goal", "tip"), TIPS),
        lambda s: f"A good tip for {s['goal']}: {s['tip']}. Small, steady habits help most.",
    ),
    NeutralFamily(
        "animal_fact",
        "How many legs does a {animal} have, and where does it live?",
        "about the legs and habitat of a {animal}",
        "state both facts",
        _rows(("animal", "legs", "habitat"), ANIMALS),
        lambda s: f"A {s['animal']} has {s['legs']} legs and usually lives in {s['habitat']}.",
    ),
    NeutralFamily(
        "word_antonym",
        "What is the opposite of '{word}'?",
        "for the opposite of '{word}'",
        "name the antonym",
        _rows(("word", "opposite"), ANTONYMS),
        lambda s: f"The opposite of '{s['word']}' is '{s['opposite']}'.",
    ),
    NeutralFamily(
        "colour_mix",
        "What colour do you get by mixing {c1} and {c2} paint?",
        "what mixing {c1} and {c2} paint gives",
        "name the resulting colour",
        _rows(("c1", "c2", "result"), COLOURS),
        lambda s: f"Mixing {s['c1']} and {s['c2']} paint gives {s['result']}.",
    ),
    NeutralFamily(
        "list_examples",
        "Name three {category}.",
        "for three examples of {category}",
        "list three well-known ones",
        _rows(("category", "examples"), CATEGORIES),
        lambda s: f"Three {s['category']}: {s['examples']}.",
    ),
    NeutralFamily(
        "summarise_sentence",
        "Summarise this sentence in a few words: '{name} went to the {place} on {day} "
        "to buy {item}, but it was closed, so {name} went home empty-handed.'",
        "for a short summary of a sentence about {name}",
        "keep only the key event",
        _summary_sample,
        lambda s: f"{s['name']} could not buy {s['item']} because the {s['place']} was closed.",
    ),
)
