"""Word data of the dialogue games: targets, related words, stop words and stemming.

The tables ship with the package (built once by ``scripts/build_dialogue_words.py`` from
wordfreq and WordNet 3.0; see ``NOTICE.txt``). Stemming uses the Snowball English stemmer.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from importlib import resources

import snowballstemmer

__all__ = [
    "related",
    "targets",
    "five_letter_targets",
    "wordle_words",
    "stop_words",
    "stem",
    "content_words",
    "content_stems",
    "reverse_related",
    "relates",
]

_WORD_RE = re.compile(r"[a-z]+")
_local = threading.local()


def _read(name: str) -> list[str]:
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


@lru_cache(maxsize=1)
def related() -> dict[str, tuple[str, ...]]:
    """Target word -> its related words (closest first), in target frequency order."""
    out: dict[str, tuple[str, ...]] = {}
    for line in _read("words.txt"):
        word, _, rest = line.partition("\t")
        out[word] = tuple(rest.split())
    return out


@lru_cache(maxsize=1)
def targets() -> tuple[str, ...]:
    """Every target word, most frequent first."""
    return tuple(related())


@lru_cache(maxsize=1)
def five_letter_targets() -> tuple[str, ...]:
    """Five-letter target words (the secrets of the Wordle games)."""
    return tuple(w for w in targets() if len(w) == 5)


@lru_cache(maxsize=1)
def wordle_words() -> tuple[str, ...]:
    """Five-letter words accepted as Wordle guesses (the secrets included), sorted."""
    return tuple(sorted(set(_read("wordle_words.txt")) | set(five_letter_targets())))


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """English function words ignored when clues are compared with forbidden words."""
    return frozenset(w for line in _read("stopwords.txt") for w in line.split())


@lru_cache(maxsize=1)
def reverse_related() -> dict[str, tuple[str, ...]]:
    """Related word -> the targets that list it (most frequent target first)."""
    rev: dict[str, list[str]] = {}
    for word, rel in related().items():
        for r in rel:
            rev.setdefault(r, []).append(word)
    return {k: tuple(v) for k, v in rev.items()}


def relates(a: str, b: str) -> bool:
    """True when the word table links ``a`` and ``b`` (in either direction)."""
    table = related()
    return a in table.get(b, ()) or b in table.get(a, ())


def stem(word: str) -> str:
    """The Snowball English stem of a word (lower-cased first)."""
    return _stem(word.lower())


@lru_cache(maxsize=1 << 16)
def _stem(word: str) -> str:
    st = getattr(_local, "stemmer", None)
    if st is None:
        st = _local.stemmer = snowballstemmer.stemmer("english")
    return str(st.stemWord(word))


def content_words(text: str) -> list[str]:
    """The lower-cased words of ``text`` without stop words, in order."""
    stop = stop_words()
    return [w for w in _WORD_RE.findall(text.lower()) if w not in stop]


def content_stems(text: str) -> set[str]:
    """Stems of the content words of ``text`` (lower-cased, stop words removed)."""
    return {stem(w) for w in content_words(text)}
