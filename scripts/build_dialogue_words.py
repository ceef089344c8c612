"""Build the word tables of the dialogue games from WordNet 3.0 and wordfreq.

Run once, where Debian's ``wordnet-base`` is installed (``apt-get install wordnet-base``)::

    python scripts/build_dialogue_words.py [--wordnet /usr/share/wordnet] [--out envs/dialogue]

It writes three files that ship in ``gymnpt.envs.dialogue`` (the installed package needs
neither apt nor NLTK):

* ``words.txt`` -- one target word a line, tab, its related words (most closely related first);
* ``wordle_words.txt`` -- five-letter words accepted as Wordle guesses;
* ``NOTICE.txt`` -- the attributions of wordfreq (CC BY-SA 4.0) and the WordNet 3.0 licence.

Targets are the most frequent English words (by ``wordfreq``) that WordNet lists in lower
case as a noun, verb or adjective, with enough related words. Related words come from the
target's synsets, in sense order: synonyms, then hypernyms, similar-to and derivation links,
then hyponyms, holonyms and meronyms. A related word must be one common lower-case word that
does not share the target's stem.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

import snowballstemmer
import wordfreq

#: Pointer symbols in the order their words are listed (closest relations first).
_POINTER_RANK = {
    "@": 1,  # hypernym
    "@i": 1,  # instance hypernym
    "&": 1,  # similar to
    "+": 2,  # derivationally related
    "^": 2,  # also see
    "=": 2,  # attribute
    "~": 3,  # hyponym
    "#m": 3,
    "#s": 3,
    "#p": 3,  # holonyms
    "%m": 3,
    "%s": 3,
    "%p": 3,  # meronyms
}
_POS_FILES = {"n": "noun", "v": "verb", "a": "adj", "s": "adj"}
_WORD_RE = re.compile(r"^[a-z]{3,12}$")
_TARGETS = 1500
_RELATED_PER_TARGET = 10
_MIN_RELATED = 6
_MIN_ZIPF = 2.5


def _data_lines(path: Path) -> Iterator[str]:
    with open(path, encoding="latin-1") as fh:
        for line in fh:
            if not line.startswith("  "):  # the licence header lines start with two spaces
                yield line.rstrip("\n")


def _parse_synset(line: str) -> tuple[list[str], list[tuple[str, str, str]]]:
    """Lemmas and (pointer symbol, offset, pos) of one data-file line."""
    head = line.split(" | ", 1)[0].split()
    n_words = int(head[3], 16)
    lemmas = [head[4 + 2 * i] for i in range(n_words)]
    i = 4 + 2 * n_words
    n_ptrs = int(head[i])
    ptrs = []
    for k in range(n_ptrs):
        sym, off, pos = head[i + 1 + 4 * k : i + 4 + 4 * k]
        ptrs.append((sym, off, pos))
    return lemmas, ptrs


def load_wordnet(root: Path) -> tuple[dict[tuple[str, str], tuple[list[str], list]], dict]:
    """Synsets keyed by (pos letter, offset) and the sense-ordered offsets of each lemma."""
    synsets: dict[tuple[str, str], tuple[list[str], list]] = {}
    senses: dict[str, list[tuple[str, str]]] = {}
    for pos, name in (("n", "noun"), ("v", "verb"), ("a", "adj")):
        for line in _data_lines(root / f"data.{name}"):
            off = line.split(" ", 1)[0]
            synsets[(pos, off)] = _parse_synset(line)
        for line in _data_lines(root / f"index.{name}"):
            parts = line.split()
            lemma, n_synsets = parts[0], int(parts[2])
            for off in parts[-n_synsets:]:
                senses.setdefault(lemma, []).append((pos, off))
    return synsets, senses


def _key(pos: str, off: str) -> tuple[str, str]:
    return ("a" if pos == "s" else pos, off)


def related_words(
    word: str, synsets: dict, senses: dict, stem: snowballstemmer.stemmer, stop: set[str]
) -> list[str]:
    """WordNet neighbours of ``word``, closest first, one word per stem."""
    ranked: list[tuple[int, int, str]] = []
    for sense_no, key in enumerate(senses.get(word, [])[:4]):
        lemmas, ptrs = synsets[key]
        for lemma in lemmas:
            ranked.append((0, sense_no, lemma))
        for sym, off, pos in ptrs:
            rank = _POINTER_RANK.get(sym)
            target = synsets.get(_key(pos, off))
            if rank is None or target is None:
                continue
            for lemma in target[0]:
                ranked.append((rank, sense_no, lemma))
    own = stem.stemWord(word)
    seen = {own}
    out: list[str] = []
    for _, _, lemma in sorted(ranked, key=lambda r: (r[0] + r[1], r[0])):
        lemma = re.sub(r"\(.*\)$", "", lemma)
        if not _WORD_RE.match(lemma) or lemma in stop:
            continue
        s = stem.stemWord(lemma)
        if s in seen or own in lemma or lemma in word:
            continue
        if wordfreq.zipf_frequency(lemma, "en") < _MIN_ZIPF:
            continue
        seen.add(s)
        out.append(lemma)
        if len(out) == _RELATED_PER_TARGET:
            break
    return out


def build(wordnet: Path, out: Path) -> dict[str, int]:
    """Write the tables; returns their sizes."""
    stop = {
        w
        for line in (out / "stopwords.txt").read_text().splitlines()
        if not line.startswith("#")
        for w in line.split()
    }
    stem = snowballstemmer.stemmer("english")
    synsets, senses = load_wordnet(wordnet)
    lower_lemmas = {lemma for lemmas, _ in synsets.values() for lemma in lemmas}
    rows: list[str] = []
    five: list[str] = []
    target_stems: set[str] = set()
    for word in wordfreq.top_n_list("en", 60_000):
        if not _WORD_RE.match(word) or word in stop or word not in lower_lemmas:
            continue
        if len(word) == 5 and len(five) < 4000:
            five.append(word)
        if len(rows) >= _TARGETS and len(word) != 5:
            continue
        if len(rows) >= _TARGETS + 400:
            continue
        if stem.stemWord(word) in target_stems:
            continue
        rel = related_words(word, synsets, senses, stem, stop)
        if len(rel) >= _MIN_RELATED:
            target_stems.add(stem.stemWord(word))
            rows.append(word + "\t" + " ".join(rel))
    (out / "words.txt").write_text(
        "# target<TAB>related words, closest first (built by scripts/build_dialogue_words.py)\n"
        + "\n".join(rows)
        + "\n"
    )
    (out / "wordle_words.txt").write_text(
        "# five-letter words accepted as guesses (built by scripts/build_dialogue_words.py)\n"
        + "\n".join(sorted(five))
        + "\n"
    )
    licence = Path("/usr/share/doc/wordnet-base/copyright")
    wn_text = licence.read_text() if licence.exists() else ""
    wn_text = wn_text.split("\nFiles: debian/", 1)[0].rstrip() + "\n"  # upstream part only
    (out / "NOTICE.txt").write_text(_NOTICE + wn_text)
    return {"targets": len(rows), "wordle_words": len(five)}


_NOTICE = """\
Word data of gymnpt.envs.dialogue
=================================

words.txt and wordle_words.txt are derived from two sources:

* Word frequencies from wordfreq (https://github.com/rspeer/wordfreq) by Robyn Speer,
  whose data is licensed under the Creative Commons Attribution-ShareAlike 4.0 licence
  (CC BY-SA 4.0, https://creativecommons.org/licenses/by-sa/4.0/). wordfreq's data is
  itself built from Wikipedia, SUBTLEX, OpenSubtitles, Google Books Ngrams, Common Crawl
  and other sources credited in wordfreq's README. The word lists here select and order
  words by that frequency data and are shared under the same licence.
* Word relations from WordNet 3.0 (Princeton University), under the WordNet 3.0 licence
  reproduced below from Debian's wordnet-base package.

WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved.

"""


def main() -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--wordnet", type=Path, default=Path("/usr/share/wordnet"))
    ap.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "envs" / "dialogue")
    args = ap.parse_args()
    print(build(args.wordnet, args.out))


if __name__ == "__main__":
    main()
