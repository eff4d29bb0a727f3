"""Offline IFEval: verifiable instruction checkers, strict and loose scoring, aggregation.

The instruction ids, their keyword arguments and the strict/loose scoring follow
google-research ``instruction_following_eval`` (``instructions.py`` and ``evaluation_lib.py``).
Three deliberate differences keep the module offline and deterministic:

* sentences are counted with a regex splitter (the reference uses NLTK punkt) and words
  with ``\\w+`` tokens; all-capital words are counted on regex tokens (reference: NLTK);
* the "in English" part of ``change_case:english_*`` is a script test (letters mostly
  ASCII) instead of ``langdetect``; ``language:response_language`` is not supported;
* missing or invalid keyword arguments raise :class:`ConfigError` instead of being replaced
  by random values, and keywords/markers are matched literally rather than as regexes.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from krel_interp.errors import ConfigError, InputFileError
from krel_interp.paths import relative_path

Checker = Callable[[str, Mapping[str, Any], str], bool]
"""``checker(response, kwargs, prompt) -> followed``."""

INSTRUCTIONS: dict[str, Checker] = {}
"""Instruction id -> checker, filled by :func:`register_instruction`."""

INSTRUCTION_PARAMS: dict[str, frozenset[str]] = {}
"""Instruction id -> the keyword-argument names its checker accepts."""

RELATIONS = ("less than", "at least")
CONSTRAINED_RESPONSE_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")
FIXTURE_NAME = "ifeval.jsonl"

# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------


def register_instruction(
    instruction_id: str, params: Iterable[str] = ()
) -> Callable[[Checker], Checker]:
    """Decorator registering ``checker`` under ``instruction_id`` with its accepted kwargs."""

    def decorate(checker: Checker) -> Checker:
        if instruction_id in INSTRUCTIONS:
            raise ConfigError(f"IFEval instruction {instruction_id!r} is registered twice")
        INSTRUCTIONS[instruction_id] = checker
        INSTRUCTION_PARAMS[instruction_id] = frozenset(params)
        return checker

    return decorate


def get_checker(instruction_id: str) -> Checker:
    """The checker of ``instruction_id``; unknown ids list the valid ones."""
    if instruction_id not in INSTRUCTIONS:
        valid = ", ".join(sorted(INSTRUCTIONS))
        raise ConfigError(f"unknown IFEval instruction {instruction_id!r}; valid: {valid}")
    return INSTRUCTIONS[instruction_id]


def is_supported(record: Mapping[str, Any]) -> bool:
    """Whether every instruction id of an IFEval record is registered (hub data also holds
    ``language:response_language``, which this module does not check)."""
    ids = record.get("instruction_id_list")
    if isinstance(ids, str) or not isinstance(ids, Sequence):
        return False
    return all(isinstance(i, str) and i in INSTRUCTIONS for i in ids)


def validate_kwargs(instruction_id: str, kwargs: Mapping[str, Any], prompt: str = "") -> None:
    """Raise :class:`ConfigError` unless ``kwargs`` are valid arguments of ``instruction_id``."""
    check_instruction(instruction_id, "a dummy response", kwargs, prompt)


def check_instruction(
    instruction_id: str, response: str, kwargs: Mapping[str, Any], prompt: str = ""
) -> bool:
    """Whether ``response`` follows one instruction (the raw check, no empty-response rule).

    ``prompt`` is only used by ``combination:repeat_prompt`` when ``prompt_to_repeat`` is absent.
    """
    checker = get_checker(instruction_id)
    unknown = sorted(set(kwargs) - INSTRUCTION_PARAMS[instruction_id])
    if unknown:
        accepted = ", ".join(sorted(INSTRUCTION_PARAMS[instruction_id])) or "none"
        raise ConfigError(
            f"IFEval instruction {instruction_id!r} got unknown kwargs {unknown}; "
            f"accepted: {accepted}"
        )
    return checker(response, kwargs, prompt)


# ---------------------------------------------------------------------------------------------
# Keyword-argument parsing
# ---------------------------------------------------------------------------------------------


def _missing(instruction_id: str, name: str) -> ConfigError:
    return ConfigError(f"IFEval instruction {instruction_id!r} needs kwarg {name!r}")


def _bad(instruction_id: str, name: str, value: Any, expected: str) -> ConfigError:
    return ConfigError(
        f"IFEval instruction {instruction_id!r}: kwarg {name!r} must be {expected}, got {value!r}"
    )


def _int_arg(kwargs: Mapping[str, Any], name: str, instruction_id: str, minimum: int = 0) -> int:
    """A required integer kwarg ``>= minimum``."""
    if kwargs.get(name) is None:
        raise _missing(instruction_id, name)
    value = kwargs[name]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _bad(instruction_id, name, value, f"an integer >= {minimum}")
    return value


def _str_arg(kwargs: Mapping[str, Any], name: str, instruction_id: str) -> str:
    """A required non-blank string kwarg, stripped."""
    if kwargs.get(name) is None:
        raise _missing(instruction_id, name)
    value = kwargs[name]
    if not isinstance(value, str) or not value.strip():
        raise _bad(instruction_id, name, value, "a non-empty string")
    return value.strip()


def _str_list_arg(kwargs: Mapping[str, Any], name: str, instruction_id: str) -> list[str]:
    """A required non-empty list of non-blank strings, each stripped."""
    if kwargs.get(name) is None:
        raise _missing(instruction_id, name)
    value = kwargs[name]
    if (
        isinstance(value, str)
        or not isinstance(value, Sequence)
        or not value
        or not all(isinstance(v, str) and v.strip() for v in value)
    ):
        raise _bad(instruction_id, name, value, "a non-empty list of non-empty strings")
    return [v.strip() for v in value]


def _relation_arg(kwargs: Mapping[str, Any], name: str, instruction_id: str) -> str:
    """A required comparison relation: ``"less than"`` or ``"at least"``."""
    if kwargs.get(name) is None:
        raise _missing(instruction_id, name)
    value = kwargs[name]
    if value not in RELATIONS:
        raise _bad(instruction_id, name, value, f"one of {list(RELATIONS)}")
    return str(value)


def _compare(count: int, relation: str, threshold: int) -> bool:
    """``count < threshold`` for "less than", ``count >= threshold`` for "at least"."""
    return count < threshold if relation == "less than" else count >= threshold


# ---------------------------------------------------------------------------------------------
# Text utilities
# ---------------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")
_CAPITAL_TOKEN = re.compile(r"\w+(?:-\w+)*")
_SENTENCE_END = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s|$)")
_WORD_BEFORE_DOT = re.compile(r"([A-Za-z][A-Za-z.]*)$")
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "inc", "ltd", "co", "vs", "approx"}
)


def count_words(text: str) -> int:
    """Number of ``\\w+`` tokens."""
    return len(_WORD.findall(text))


def _is_abbreviation(before: str, terminator: str) -> bool:
    """Whether a single ``.`` after ``before`` closes an abbreviation, initial or acronym."""
    if terminator.rstrip("\"'\u201d\u2019)]") != ".":
        return False
    match = _WORD_BEFORE_DOT.search(before)
    if match is None:
        return False
    token = match.group(1).lower()
    return token in _ABBREVIATIONS or len(token) == 1 or "." in token


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences at ``.``, ``!`` or ``?`` followed by whitespace or the end.

    Abbreviations (``Dr.``), initials (``J.``), acronyms (``e.g.``) and decimals do not end a
    sentence; a piece without letters (a list number such as ``1.``) joins the next one.
    """
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        piece = text[start : match.start()]
        if _is_abbreviation(piece, match.group()) or not any(c.isalpha() for c in piece):
            continue
        sentences.append(text[start : match.end()].strip())
        start = match.end()
    tail = text[start:].strip()
    if any(c.isalnum() for c in tail):
        sentences.append(tail)
    return sentences


def count_sentences(text: str) -> int:
    """Number of sentences found by :func:`split_sentences`."""
    return len(split_sentences(text))


def looks_english(text: str) -> bool:
    """Script test standing in for ``langdetect == "en"``: >= 90% of letters are ASCII.

    Text without letters counts as English (the reference treats undetectable text as followed).
    """
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return True
    return sum(c.isascii() for c in letters) >= 0.9 * len(letters)


# ---------------------------------------------------------------------------------------------
# Checkers: keywords
# ---------------------------------------------------------------------------------------------


@register_instruction("keywords:existence", params=("keywords",))
def check_keywords_existence(response: str, kwargs: Mapping[str, Any], prompt: str) -> bool:
    """Every keyword occurs in the response (case-insensitive substring)."""
    keywords = _str_list_arg(kwargs, "keywords", "keywords:existence")
    return all(re.search(re.escape(k), response, flags=re.IGNORECASE) for k in keywords)


@register_instruction("keywords:forbidden_words", params=("forbidden_words",))
def check_forbidden_words(response: str, kwargs: Mapping[str, Any], prompt: str) -> bool:
    """No forbidden word occurs as a whole word (case-insensitive)."""
    words = _str_list_arg(kwargs, "forbidden_words", "keywords:forbidden_words")
    return not any(
        re.search(r"\b" + re.escape(w) + r"\b", response, flags=re.IGNORECASE) for w in words
    )


@register_instruction("keywords:frequency", params=("keyword", "frequency", "relation"))
def check_keyword_frequency(response: str, kwargs: Mapping[str, Any], prompt: str) -> bool:
    """The keyword (case-insensitive substring) occurs ``less than``/``at least`` N times."""
    iid = "keywords:frequency"
    keyword = _str_arg(kwargs, "keyword", iid)
    frequency = _int_arg(kwargs, "frequency", iid)
    relation = _relation_arg(kwargs, "relation", iid)
    count = len(re.findall(re.escape(keyword), response, flags=re.IGNORECASE))
    return _compare(count, relation, frequency)


@register_instruction(
    "keywords:letter_frequency", params=("letter", "let_frequency", "let_relation")
)
def check_letter_frequency(response: str, kwargs: Mapping[str, Any], prompt: str) -> bool:
    """One letter (case-insensitive) occurs ``less than``/``at least`` N times."""
    iid = "keywords:letter_frequency"
    letter = _str_arg(kwargs, "letter", iid)
    if len(letter) != 1:
        raise _bad(iid, "letter", kwargs["letter"], "a single letter")
    frequency = _int_arg(kwargs, "let_frequency", iid)
    relation = _relation_arg(kwargs, "let_relation", iid)
    return _compare(Counter(response.lower())[letter.lower()], relation, frequency)


# ---------------------------------------------------------------------------------------------
# Checkers: punctuation and case
# ---------------------------------------------------------------------------------------------


@register_instruction("punctuation:no_comma")
def check_no_comma(response: str, kwargs: Mapping[str, Any], prompt: str) -> bool:
    """The response contains no ``,``."""
    return "," not in response


@register_instruction("change_case:english_lowercase")
def check_english_lowercase(response: str, kwargs: Mapping[str, Any], prompt: str) -> bool:
    """All cased characters are lowercase (``str.islower``) and the text looks English."""
    return response.islower() and looks_english(response)


@register_instruction("change_case:english_capital")
def check_english_capital(response: str, kwargs: Mapping[str, Any], prompt: str) -> bool:
    """All cased characters are uppercase (``str.isupper``) and the text looks English."""
    return response.isupper() and looks_english(response)


@register_instruction(
    "change_case:capital_word_frequency", params=("capital_frequency", "capital_relation")
)
def check_capital_word_frequency(response: str, kwargs: Mapping[str, Any], prompt: str) -> bool:
    """All-capital words (hyphenated words count once) occur ``less than``/``at least`` N times."""
    iid = "change_case:capital_word_frequency"
    frequency = _int_arg(kwargs, "capital_frequency", iid)
    relation = _relation_arg(kwargs, "capital_relation", iid)
    count = sum(token.isupper() for token in _CAPITAL_TOKEN.findall(response))
    return _compare(count, relation, frequency)


# ---------------------------------------------------------------------------------------------
# Checkers: length constraints
# ---------------------------------------------------------------------------------------------


@register_instruction("length_constraints:number_words", params=("num_words", "relation"))
def check_number_words(response: str, kwargs: Mapping[str, Any], prompt: str) -> bool:
    """The number of words is ``less than``/``at least`` N."""
    iid = "length_constraints:number_words"
    num_words = _int_arg(kwargs, "num_words", iid)
    relation = _relation_arg(kwargs, "relation", iid)
    return _compare(count_words(response), relation, num_words)


@register_instruction("length_constraints:number_sentences", params=("num_sentences", "relation"))
def check_number_sentences(response: str, kwargs: Mapping[str, Any], prompt: str) -> bool:
    """The number of sentences is ``less than``/``at least`` N."""
    iid = "length_constraints:number_sentences"
    num_sentences = _int_arg(kwargs, "num_sentences", iid)
    relation = _relation_arg(kwargs, "relation", iid)
    return _compare(count_sentences(response), relation, num_sentences)


@register_instruction("length_constraints:number_paragraphs", params=("num_paragraphs",))
def check_number_paragraphs(response: str, kwargs: Mapping[str, Any], prompt: str) -> bool:
    """Exactly N paragraphs separated by ``***``; an empty one in the middle fails."""
    expected = _int_arg(kwargs, "num_paragraphs", "length_constraints:number_paragraphs")
    paragraphs = re.split(r"\s?\*\*\*\s?", response)
    count = len(paragraphs)
    for index, paragraph in enumerate(paragraphs):
        if paragraph.strip():
            continue
        if index not in (0, len(paragraphs) - 1):
            return False
        count -= 1
    return count == expected


def _first_word(paragraph: str) -> str:
    """Lowercased first word of a paragraph, leading quotes and trailing punctuation cut."""
    word = paragraph.split()[0].strip().lstrip("'").lstrip('"')
    letters: list[str] = []
    for char in word:
        if char in ".,?!'\"":
            break
        letters.append(char.lower())
    return "".join(letters)


@register_instruction(
    "length_constraints:nth_paragraph_first_word",
    params=("num_paragraphs", "nth_paragraph", "first_word"),
)
def check_nth_paragraph_first_word(response: str, kwargs: Mapping[str, Any], prompt: str) -> bool:
    """Exactly N ``\\n\\n``-separated paragraphs and paragraph ``nth`` starts with a word."""
    iid = "length_constraints:nth_paragraph_first_word"
    expected = _int_arg(kwargs, "num_paragraphs", iid, minimum=1)
    nth = _int_arg(kwargs, "nth_paragraph", iid, minimum=1)
    if nth > expected:
        raise _bad(iid, "nth_paragraph", nth, f"at most num_paragraphs={expected}")
    word = _str_arg(kwargs, "first_word", iid).lower()
    paragraphs = response.split("\n\n")
    count = sum(1 for p in paragraphs if p.strip())
    if nth > count:
        return False
    paragraph = paragraphs[nth - 1].strip()
    if not paragraph:
        return False
    return count == expected and _first_word(paragraph) == word


# ---------------------------------------------------------------------------------------------
# Checkers: detectable format
# ---------------------------------------------------------------------------------------------


@register_instruction("detectable_format:title")
def check_title(response: str, kwargs: Mapping[str, Any], prompt: str) -> bool:
    """A non-blank title in double angular brackets on one line, such as ``<<poem of joy>>``."""
    titles = re.findall(r"<<[^\n]+>>", response)
    return any(t.lstrip("<").rstrip(">").strip() for t in titles)


@register_instruction("detectable_format:json_format")
def check_json_format(response: str, kwargs: Mapping[str, Any], prompt: str) -> bool:
    """The whole response parses as JSON, optionally inside a ```` ```json ```` fence."""
    text = response.strip()
    for fence in ("```json", "```Json", "```JSON", "```"):
        text = text.removeprefix(fence)
    text = text.removesuffix("```").strip()
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@register_instruction("detectable_format:number_bullet_lists", params=("num_bullets",))
def check_number_bullet_lists(response: str, kwargs: Mapping[str, Any], prompt: str) -> bool:
    """Exactly N markdown bullet lines (starting with ``*`` or ``-``)."""
    expected = _int_arg(kwargs, "num_bullets", "detectable_format:number_bullet_lists")
    stars = re.findall(r"^\s*\*[^\*].*$", response, flags=re.MULTILINE)
    dashes = re.findall(r"^\s*-.*$", response, flags=re.MULTILINE)
    return len(stars) + len(dashes) == expected


@register_instruction("detectable_format:number_highlighted_sections", params=("num_highlights",))
def check_number_highlighted_sections(
    response: str, kwargs: Mapping[str, Any], prompt: str
) -> bool:
    """At least N non-blank ``*highlighted*`` (or ``**bold**``) spans."""
    expected = _int_arg(kwargs, "num_highlights", "detectable_format:number_highlighted_sections")
    single = re.findall(r"\*[^\n\*]*\*", response)
    double = re.findall(r"\*\*[^\n\*]*\*\*", response)
    count = sum(1 for h in single if h.strip("*").strip())
    count += sum(1 for h in double if h.removeprefix("**").removesuffix("**").strip())
    return count >= expected


@register_instruction(
    "detectable_format:multiple_sections", params=("section_spliter", "num_sections")
)
def check_multiple_sections(response: str, kwargs: Mapping[str, Any], prompt: str) -> bool:
    """At least N sections, each introduced by ``<spliter> <number>`` (e.g. ``SECTION 1``)."""
    iid = "detectable_format:multiple_sections"
    spliter = _str_arg(kwargs, "section_spliter", iid)
    expected = _int_arg(kwargs, "num_sections", iid)
    sections = re.split(r"\s?" + re.escape(spliter) + r"\s?\d+\s?", response)
    return len(sections) - 1 >= expected


@register_instruction("detectable_format:constrained_response")
def check_constrained_response(response: str, kwargs: Mapping[str, Any], prompt: str) -> bool:
    """The response contains "My answer is yes.", "My answer is no." or "My answer is maybe."."""
    text = response.strip()
    return any(option in text for option in CONSTRAINED_RESPONSE_OPTIONS)


# ---------------------------------------------------------------------------------------------
# Checkers: detectable content, start/end, combinations
# ---------------------------------------------------------------------------------------------


def _postscript_pattern(marker: str) -> str:
    """The (lowercase) regex finding a postscript that starts with ``marker``."""
    if marker == "P.P.S":
        return r"\s*p\.\s?p\.\s?s.*$"
    if marker == "P.S.":
        return r"\s*p\.\s?s\..*$"
    return r"\s*" + re.escape(marker.lower()) + r".*$"


@register_instruction("detectable_content:postscript", params=("postscript_marker",))
def check_postscript(response: str, kwargs: Mapping[str, Any], prompt: str) -> bool:
    """A postscript introduced by the marker (``P.S.``, ``P.P.S`` or any other)."""
    marker = _str_arg(kwargs, "postscript_marker", "detectable_content:postscript")
    pattern = _postscript_pattern(marker)
    return bool(re.findall(pattern, response.lower(), flags=re.MULTILINE))


@register_instruction("detectable_content:number_placeholders", params=("num_placeholders",))
def check_number_placeholders(response: str, kwargs: Mapping[str, Any], prompt: str) -> bool:
    """At least N square-bracket placeholders such as ``[address]``."""
    expected = _int_arg(kwargs, "num_placeholders", "detectable_content:number_placeholders")
    return len(re.findall(r"\[.*?\]", response)) >= expected


@register_instruction("startend:end_checker", params=("end_phrase",))
def check_end_phrase(response: str, kwargs: Mapping[str, Any], prompt: str) -> bool:
    """The response (stripped of whitespace and ``"``) ends with the phrase, ignoring case."""
    phrase = _str_arg(kwargs, "end_phrase", "startend:end_checker").lower()
    return response.strip().strip('"').lower().endswith(phrase)


@register_instruction("startend:quotation")
def check_quotation(response: str, kwargs: Mapping[str, Any], prompt: str) -> bool:
    """The stripped response starts and ends with ``"``."""
    text = response.strip()
    return len(text) > 1 and text[0] == '"' and text[-1] == '"'


@register_instruction("combination:repeat_prompt", params=("prompt_to_repeat",))
def check_repeat_prompt(response: str, kwargs: Mapping[str, Any], prompt: str) -> bool:
    """The response starts with the request repeated word for word (case-insensitive)."""
    iid = "combination:repeat_prompt"
    if kwargs.get("prompt_to_repeat") is None and prompt.strip():
        request = prompt.strip()
    else:
        request = _str_arg(kwargs, "prompt_to_repeat", iid)
    return response.strip().lower().startswith(request.lower())


@register_instruction("combination:two_responses")
def check_two_responses(response: str, kwargs: Mapping[str, Any], prompt: str) -> bool:
    """Exactly two different non-blank answers separated by ``******``."""
    parts = response.split("******")
    answers: list[str] = []
    for index, part in enumerate(parts):
        if part.strip():
            answers.append(part.strip())
        elif index not in (0, len(parts) - 1):
            return False
    return len(answers) == 2 and answers[0] != answers[1]


# ---------------------------------------------------------------------------------------------
# Items, evaluation and aggregation
# ---------------------------------------------------------------------------------------------


def _record_error(record: Mapping[str, Any], message: str) -> ConfigError:
    key = record.get("key", "?")
    return ConfigError(f"IFEval record key={key!r}: {message}")


def _parse_ids(record: Mapping[str, Any]) -> tuple[str, ...]:
    ids = record.get("instruction_id_list")
    if isinstance(ids, str) or not isinstance(ids, Sequence) or not ids:
        raise _record_error(record, "instruction_id_list must be a non-empty list of ids")
    if not all(isinstance(i, str) for i in ids):
        raise _record_error(record, "instruction_id_list must hold strings")
    for instruction_id in ids:
        get_checker(instruction_id)
    return tuple(ids)


def _parse_kwargs(record: Mapping[str, Any], n_ids: int) -> tuple[dict[str, Any], ...]:
    raw = record.get("kwargs")
    if isinstance(raw, str) or not isinstance(raw, Sequence):
        raise _record_error(record, "kwargs must be a list of objects")
    if len(raw) != n_ids:
        raise _record_error(record, f"kwargs has {len(raw)} entries for {n_ids} instructions")
    if not all(isinstance(k, Mapping) for k in raw):
        raise _record_error(record, "every kwargs entry must be an object")
    return tuple({k: v for k, v in entry.items() if v is not None} for entry in raw)


@dataclass(frozen=True)
class IFEvalItem:
    """One IFEval prompt with its instructions and their kwargs (same order)."""

    key: int
    prompt: str
    instruction_id_list: tuple[str, ...]
    kwargs: tuple[dict[str, Any], ...]

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> IFEvalItem:
        """Validate one IFEval JSON record; ``None``-valued kwargs are dropped (hub format)."""
        if not isinstance(record, Mapping):
            raise ConfigError(f"IFEval record must be an object, got {type(record).__name__}")
        key = record.get("key")
        if isinstance(key, bool) or not isinstance(key, int):
            raise _record_error(record, "key must be an integer")
        prompt = record.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise _record_error(record, "prompt must be a non-empty string")
        ids = _parse_ids(record)
        kwargs = _parse_kwargs(record, len(ids))
        for instruction_id, entry in zip(ids, kwargs, strict=True):
            try:
                validate_kwargs(instruction_id, entry, prompt)
            except ConfigError as exc:
                raise _record_error(record, str(exc)) from exc
        return cls(key=key, prompt=prompt, instruction_id_list=ids, kwargs=kwargs)


@dataclass(frozen=True)
class IFEvalResult:
    """Per-instruction strict and loose outcomes of one response."""

    key: int
    strict: tuple[bool, ...]
    loose: tuple[bool, ...]
    instruction_id_list: tuple[str, ...] = ()

    @property
    def prompt_strict(self) -> bool:
        """All instructions followed under strict scoring."""
        return all(self.strict)

    @property
    def prompt_loose(self) -> bool:
        """All instructions followed under loose scoring."""
        return all(self.loose)


def loose_variants(response: str) -> tuple[str, ...]:
    """The eight responses tried by loose scoring (evaluation_lib order).

    The response, with its first line removed, last line removed, both removed, and each of
    these four with every ``*`` deleted.
    """
    lines = response.split("\n")
    cut_first = "\n".join(lines[1:]).strip()
    cut_last = "\n".join(lines[:-1]).strip()
    cut_both = "\n".join(lines[1:-1]).strip()
    return (
        response,
        response.replace("*", ""),
        cut_first,
        cut_last,
        cut_both,
        cut_first.replace("*", ""),
        cut_last.replace("*", ""),
        cut_both.replace("*", ""),
    )


def _follows(instruction_id: str, response: str, kwargs: Mapping[str, Any], prompt: str) -> bool:
    """A blank response follows nothing; otherwise the checker decides."""
    return bool(response.strip()) and check_instruction(instruction_id, response, kwargs, prompt)


def evaluate_response(item: IFEvalItem, response: str) -> IFEvalResult:
    """Strict and loose scoring of ``response`` against every instruction of ``item``."""
    variants = loose_variants(response)
    strict: list[bool] = []
    loose: list[bool] = []
    for instruction_id, kwargs in zip(item.instruction_id_list, item.kwargs, strict=True):
        strict.append(_follows(instruction_id, response, kwargs, item.prompt))
        loose.append(any(_follows(instruction_id, v, kwargs, item.prompt) for v in variants))
    return IFEvalResult(
        key=item.key,
        strict=tuple(strict),
        loose=tuple(loose),
        instruction_id_list=item.instruction_id_list,
    )


def aggregate(results: Sequence[IFEvalResult]) -> dict[str, float | int]:
    """Prompt- and instruction-level accuracies (strict and loose) with their counts."""
    if not results:
        raise ConfigError("no IFEval results to aggregate")
    n_prompts = len(results)
    n_instructions = sum(len(r.strict) for r in results)
    counts = {
        "prompt_strict": sum(r.prompt_strict for r in results),
        "prompt_loose": sum(r.prompt_loose for r in results),
        "inst_strict": sum(sum(r.strict) for r in results),
        "inst_loose": sum(sum(r.loose) for r in results),
    }
    summary: dict[str, float | int] = {}
    for name, count in counts.items():
        total = n_prompts if name.startswith("prompt") else n_instructions
        summary[name] = count / total if total else 0.0
        summary[f"{name}_count"] = count
    summary["n_prompts"] = n_prompts
    summary["n_instructions"] = n_instructions
    return summary


def aggregate_by_instruction(results: Sequence[IFEvalResult]) -> dict[str, dict[str, float]]:
    """Strict and loose accuracy per instruction id, with ``n`` (results need their ids)."""
    tallies: dict[str, list[int]] = {}
    for result in results:
        for instruction_id, strict, loose in zip(
            result.instruction_id_list, result.strict, result.loose, strict=True
        ):
            tally = tallies.setdefault(instruction_id, [0, 0, 0])
            tally[0] += 1
            tally[1] += strict
            tally[2] += loose
    return {
        iid: {"n": float(n), "strict": s / n, "loose": lo / n}
        for iid, (n, s, lo) in sorted(tallies.items())
    }


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def fixture_path() -> Path:
    """The packaged project-written IFEval-format prompts."""
    return Path(str(resources.files("krel_interp").joinpath("data", "naturalness", FIXTURE_NAME)))


def load_items(path: str | Path | None = None) -> list[IFEvalItem]:
    """IFEval items from a JSONL file (default: :func:`fixture_path`); keys must be unique."""
    source = Path(path) if path is not None else fixture_path()
    shown = relative_path(source)
    if not source.is_file():
        raise InputFileError(f"IFEval file not found: {shown}")
    items: list[IFEvalItem] = []
    seen: set[int] = set()
    for lineno, line in enumerate(source.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = IFEvalItem.from_record(json.loads(line))
        except (ValueError, ConfigError) as exc:
            raise InputFileError(f"{shown}:{lineno}: {exc}") from exc
        if item.key in seen:
            raise InputFileError(f"{shown}:{lineno}: duplicate IFEval key {item.key}")
        seen.add(item.key)
        items.append(item)
    return items
