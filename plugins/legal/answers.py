"""Reading a client's answers to the intake: names, contact details, places, areas of law and deadlines.

Pure functions over text, used by the form validation actions. Each returns the normalised value, or None (or
an `UrgencyReading` with a problem) when the answer cannot be used, so the form asks again.

Deadlines are read as one of four values: "urgent", "this week", an ISO date ("2025-06-12") or "no deadline".
A numeric date whose day and month could be swapped ("03/04") is not guessed: for a legal deadline a wrong
guess is worse than asking again, so the client is asked to write the month as a word.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final, Literal

__all__ = [
    "MAX_DESCRIPTION_LENGTH",
    "MIN_DESCRIPTION_LENGTH",
    "NO_DEADLINE",
    "PRACTICE_AREA_KEYWORDS",
    "THIS_WEEK",
    "URGENT",
    "UrgencyReading",
    "clean_name",
    "clean_place",
    "describe_list",
    "description_problem",
    "find_contact",
    "is_pressing",
    "match_choice",
    "parse_urgency",
]

URGENT: Final = "urgent"
THIS_WEEK: Final = "this week"
NO_DEADLINE: Final = "no deadline"
MIN_DESCRIPTION_LENGTH: Final = 20
MAX_DESCRIPTION_LENGTH: Final = 1000
_MAX_NAME_LENGTH: Final = 100
_MAX_PLACE_LENGTH: Final = 60
_PRESSING_DAYS: Final = 7
"""A deadline this many days away or fewer is treated like an urgent one."""

# --- names and contact details -----------------------------------------------------------------------------------

_NAME_CUES: Final = re.compile(
    r"^(?:hi|hello|hey)?[\s,]*(?:my (?:full |first )?name(?:'s| is)|the name(?:'s| is)|name(?:'s| is)?\s*:?|"
    r"i'm called|i am called|you can call me|call me|this is|it's|it is|i'm|i am)\s+",
    re.IGNORECASE,
)
_NAME_TAILS: Final = re.compile(r"[\s,]+(?:here|speaking|that's me|thanks|thank you)\W*$", re.IGNORECASE)
_NAME: Final = re.compile(r"[^\W\d_]+(?:[\s'’.-]+[^\W\d_]+)*\.?")

_MAX_NAME_WORDS: Final = 6
_NOT_NAME_WORDS: Final = frozenset(
    {
        "a", "an", "the", "my", "your", "our", "is", "are", "was", "about", "need", "want", "help", "lawyer",
        "attorney", "with", "for", "to", "of", "i", "you", "me", "we", "it", "this", "that", "not", "no", "yes",
        "please", "thanks", "hello", "hi",
    }
)
"""Words no name contains: their presence means the answer is a sentence ("it's about my divorce")."""

_EMAIL: Final = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE: Final = re.compile(r"\+?\(?\d[\d\s().-]{5,}\d")
_MIN_PHONE_DIGITS: Final = 7
_MAX_PHONE_DIGITS: Final = 15
"""E.164 numbers have at most 15 digits; local numbers at least 7."""


def clean_name(text: str) -> str | None:
    """The person's name in an answer ("my name is Ana Silva" -> "Ana Silva"); None if it is not a name
    (digits, an email address, or a sentence rather than a name)."""
    name = _NAME_TAILS.sub("", _NAME_CUES.sub("", " ".join(text.split()))).strip(" ,.!")
    if not name or len(name) > _MAX_NAME_LENGTH or not _NAME.fullmatch(name):
        return None
    words = name.casefold().split()
    if len(words) > _MAX_NAME_WORDS or any(word in _NOT_NAME_WORDS for word in words):
        return None
    return name


def find_contact(text: str) -> str | None:
    """The email address (lower-cased) or phone number (as written, spaces tidied) in an answer, if any."""
    email = _EMAIL.search(text)
    if email:
        return email.group(0).lower()
    for match in _PHONE.finditer(text):
        digits = sum(char.isdigit() for char in match.group(0))
        if _MIN_PHONE_DIGITS <= digits <= _MAX_PHONE_DIGITS:
            return " ".join(match.group(0).split())
    return None


# --- places and areas of law -----------------------------------------------------------------------------------

PRACTICE_AREA_KEYWORDS: Final[Mapping[str, tuple[str, ...]]] = {
    "family": ("divorce", "custody", "child support", "separation", "separating", "alimony", "adoption", "adopt",
               "prenup", "prenuptial", "marriage", "spousal support"),
    "employment": ("fired", "dismissed", "dismissal", "wrongful termination", "wrongfully terminated", "let go",
                   "unpaid wages", "wages", "employer", "workplace", "discrimination at work", "labor", "labour"),
    "immigration": ("visa", "green card", "asylum", "work permit", "citizenship", "deportation", "deported",
                    "residency", "refugee"),
    "criminal defense": ("criminal", "criminal defence", "arrested", "charged", "dui", "dwi", "assault", "theft",
                         "police"),
    "personal injury": ("injury", "injured", "car accident", "accident", "slip and fall", "malpractice",
                        "whiplash"),
    "real estate": ("property", "landlord", "tenant", "lease", "eviction", "conveyancing", "house purchase",
                    "mortgage"),
    "wills and estates": ("will", "wills", "probate", "estate", "inheritance", "trust", "power of attorney",
                          "estate planning"),
    "business": ("company", "contract dispute", "corporate", "partnership", "shareholder", "startup",
                 "incorporation", "commercial"),
}
"""Words that point to an area of law, by the area's usual name (the plugin's default `practice_areas`). The
NLU's synonyms map the common ones for entities; these catch a free-text answer."""

_PLACE_CUES: Final = re.compile(
    r"^(?:(?:i|we)(?:'m|'re| am| are)?|it(?:'s| is)?|the (?:matter|case|property)(?:'s| is)?)?\s*"
    r"(?:all\s+)?(?:live|living|based|located|happened|from)?\s*(?:in|from)\s+",
    re.IGNORECASE,
)


def _normalised(text: str) -> str:
    words = re.sub(r"[^\w\s]", " ", text.casefold()).split()
    if words and words[-1] == "law":
        words = words[:-1]
    return " ".join(words)


def _contains_words(text: str, phrase: str) -> bool:
    return bool(phrase) and f" {phrase} " in f" {text} "


def match_choice(
    answer: str, choices: Sequence[str], keywords: Mapping[str, Iterable[str]] | None = None
) -> str | None:
    """The choice (as configured) an answer names: the whole answer, a choice named inside it (the longest
    wins), or a keyword of a choice ("my divorce" -> "family"). Case, punctuation and a trailing "law" do not
    matter. None if no choice fits."""
    text = _normalised(answer)
    by_name = {_normalised(choice): choice for choice in choices}
    if text in by_name:
        return by_name[text]
    named = [name for name in by_name if _contains_words(text, name)]
    if named:
        return by_name[max(named, key=len)]
    for area, words in (keywords or {}).items():
        choice = by_name.get(_normalised(area))
        if choice is not None and any(_contains_words(text, _normalised(word)) for word in words):
            return choice
    return None


def clean_place(answer: str) -> str | None:
    """A place named in a free answer ("I live in ontario" -> "Ontario"), for firms that take any
    jurisdiction; None if nothing place-like is left."""
    place = _PLACE_CUES.sub("", " ".join(answer.split())).strip(" ,.!?")
    if not place or len(place) > _MAX_PLACE_LENGTH or any(char.isdigit() for char in place):
        return None
    return place if not place.islower() else place.title()


def describe_list(items: Sequence[str]) -> str:
    """ "a", "a and b", "a, b and c" """
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def description_problem(description: str) -> Literal["too short", "too long"] | None:
    length = len(" ".join(description.split()))
    if length < MIN_DESCRIPTION_LENGTH:
        return "too short"
    if length > MAX_DESCRIPTION_LENGTH:
        return "too long"
    return None


# --- deadlines ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UrgencyReading:
    """What a deadline answer says: `value` ("urgent", "this week", an ISO date or "no deadline"), or the
    `problem` that keeps it from being read."""

    value: str | None = None
    problem: Literal["unclear", "ambiguous date", "past date"] | None = None


_NO_DEADLINE: Final = re.compile(
    r"\b(?:no (?:particular |real |set )?(?:deadline|rush|hurry|date)|not (?:urgent|time[ -]sensitive|in a hurry)|"
    r"whenever|no time limit|there isn't one|nothing urgent)\b|^(?:no|none|nope|n/?a)\W*$"
)
_URGENT: Final = re.compile(
    r"\b(?:urgent|urgently|asap|as soon as possible|emergency|immediately|right away|straight away|"
    r"right now|today|tonight)\b"
)
_THIS_WEEK: Final = re.compile(
    r"\b(?:this week|within (?:a|one|the) week|end of (?:the|this) week|(?:in |within )?the next few days|"
    r"in a few days|within days|by the weekend|this weekend)\b"
)
_MONTHS: Final = {
    name.casefold(): number
    for number in range(1, 13)
    for name in (calendar.month_name[number], calendar.month_abbr[number])
} | {"sept": 9}
_MONTH: Final = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DAY_MONTH: Final = re.compile(
    rf"\b(\d{{1,2}})(?:st|nd|rd|th)?(?:\s+of)?\s+({_MONTH})\.?(?:,?\s+(\d{{4}}))?\b"
)
_MONTH_DAY: Final = re.compile(rf"\b({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?")
_ISO: Final = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_NUMERIC: Final = re.compile(r"\b(\d{1,2})[/.](\d{1,2})(?:[/.](\d{2}|\d{4}))?\b")
_DAY_ONLY: Final = re.compile(r"\bthe (\d{1,2})(?:st|nd|rd|th)\b")
_WEEKDAYS: Final = {name.casefold(): number for number, name in enumerate(calendar.day_name)}
_WEEKDAY: Final = re.compile(rf"\b({'|'.join(_WEEKDAYS)})\b")
_NUMBER_WORDS: Final = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_SPAN: Final = re.compile(
    rf"\b(?:in|within)\s+(?:the next\s+)?(\d+|{'|'.join(_NUMBER_WORDS)})\s+(day|week|month)s?\b"
)
_DAYS_PER_UNIT: Final = {"day": 1, "week": 7, "month": 30}


def parse_urgency(answer: str, today: date) -> UrgencyReading:
    """Read a deadline answer relative to `today` (see the module docstring)."""
    text = " ".join(answer.casefold().split())
    if _NO_DEADLINE.search(text):
        return UrgencyReading(NO_DEADLINE)
    if _URGENT.search(text):
        return UrgencyReading(URGENT)
    dated = _read_date(text, today)
    if dated is not None:
        return dated
    if _THIS_WEEK.search(text):
        return UrgencyReading(THIS_WEEK)
    return UrgencyReading(problem="unclear")


def is_pressing(urgency: str | None, today: date) -> bool:
    """Whether a read deadline needs attention first: urgent, this week, or a date within a week."""
    if urgency in (URGENT, THIS_WEEK):
        return True
    try:
        deadline = date.fromisoformat(urgency or "")
    except ValueError:
        return False
    return (deadline - today).days <= _PRESSING_DAYS


def _read_date(text: str, today: date) -> UrgencyReading | None:
    """A date written in the answer, as a reading; None if there is none."""
    for reader in (_explicit_date, _relative_date):
        found = reader(text, today)
        if found is not None:
            return found
    return None


def _explicit_date(text: str, today: date) -> UrgencyReading | None:
    if match := _ISO.search(text):
        return _reading(int(match[1]), int(match[2]), int(match[3]), today, year_given=True)
    if match := _DAY_MONTH.search(text):
        return _reading(_year(match[3], today), _MONTHS[match[2]], int(match[1]), today, year_given=bool(match[3]))
    if match := _MONTH_DAY.search(text):
        return _reading(_year(match[3], today), _MONTHS[match[1]], int(match[2]), today, year_given=bool(match[3]))
    if match := _NUMERIC.search(text):
        first, second = int(match[1]), int(match[2])
        if first <= 12 and second <= 12 and first != second:
            return UrgencyReading(problem="ambiguous date")
        day, month = (first, second) if first > 12 else (second, first)
        return _reading(_year(match[3], today), month, day, today, year_given=bool(match[3]))
    return None


def _relative_date(text: str, today: date) -> UrgencyReading | None:
    if re.search(r"\btomorrow\b", text):
        return UrgencyReading((today + timedelta(days=1)).isoformat())
    if match := _WEEKDAY.search(text):
        # "Friday", "this Friday" and "next Friday" all read as the coming Friday (1 to 7 days ahead)
        ahead = (_WEEKDAYS[match[1]] - today.weekday()) % 7 or 7
        return UrgencyReading((today + timedelta(days=ahead)).isoformat())
    if match := _DAY_ONLY.search(text):
        day = int(match[1])
        month, year = today.month, today.year
        if day < today.day:
            month, year = (1, year + 1) if month == 12 else (month + 1, year)
        return _reading(year, month, day, today, year_given=True)
    if re.search(r"\bend of (?:the |this )?month\b", text):
        last = calendar.monthrange(today.year, today.month)[1]
        return UrgencyReading(today.replace(day=last).isoformat())
    if re.search(r"\bnext week\b", text):
        return UrgencyReading((today + timedelta(days=7)).isoformat())
    if match := _SPAN.search(text):
        count = int(match[1]) if match[1].isdigit() else _NUMBER_WORDS[match[1]]
        return UrgencyReading((today + timedelta(days=count * _DAYS_PER_UNIT[match[2]])).isoformat())
    return None


def _year(written: str | None, today: date) -> int | None:
    """The year as written (two digits are this century); None when not written (the next such date)."""
    if not written:
        return None
    return 2000 + int(written) if len(written) == 2 else int(written)


def _reading(year: int | None, month: int, day: int, today: date, *, year_given: bool) -> UrgencyReading:
    try:
        deadline = date(year or today.year, month, day)
    except ValueError:
        return UrgencyReading(problem="unclear")
    if not year_given and deadline < today:
        try:
            deadline = deadline.replace(year=deadline.year + 1)
        except ValueError:  # 29 February
            return UrgencyReading(problem="unclear")
    if deadline < today:
        return UrgencyReading(problem="past date")
    return UrgencyReading(deadline.isoformat())
