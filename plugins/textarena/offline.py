"""Keep TextArena's word games off the network.

Several TextArena games call ``nltk.download(...)`` when their module is imported or their
dictionary is built. NLTK's downloader always fetches its index from the internet first, so
offline it prints errors (and on some networks it blocks until a timeout). Before gymnpt
imports TextArena it replaces ``nltk.download`` with :func:`offline_download`, which only
looks for the resource on disk and never opens a connection. A game whose data is missing
then fails with NLTK's own ``LookupError`` naming the resource, which gymnpt reports.
"""

from __future__ import annotations

from typing import Any

__all__ = ["install", "offline_download", "resource_on_disk"]

#: NLTK resource id -> the path ``nltk.data.find`` looks up.
_FIND_PATHS = {
    "words": "corpora/words",
    "averaged_perceptron_tagger_eng": "taggers/averaged_perceptron_tagger_eng",
    "punkt": "tokenizers/punkt",
    "punkt_tab": "tokenizers/punkt_tab",
    "wordnet": "corpora/wordnet",
    "stopwords": "corpora/stopwords",
}


def resource_on_disk(resource: str) -> bool:
    """Whether NLTK finds ``resource`` (an id such as ``"words"``) in its data path."""
    import nltk

    path = _FIND_PATHS.get(resource, resource)
    for cand in (path, f"{path}.zip"):
        try:
            nltk.data.find(cand)
            return True
        except LookupError:
            continue
    return False


def offline_download(info_or_id: Any = None, *args: Any, **kwargs: Any) -> bool:
    """A drop-in for ``nltk.download`` that never touches the network.

    Returns:
        True when every requested resource is already on disk, else False (as NLTK's
        downloader returns False when a download fails).
    """
    if info_or_id is None:
        return False
    ids = [info_or_id] if isinstance(info_or_id, str) else list(info_or_id)
    return all(isinstance(i, str) and resource_on_disk(i) for i in ids)


offline_download._gymnpt_offline = True  # type: ignore[attr-defined]


def install() -> None:
    """Replace ``nltk.download`` with :func:`offline_download` (idempotent)."""
    try:
        import nltk
    except ImportError:
        return
    if getattr(nltk.download, "_gymnpt_offline", False):
        return
    nltk.download = offline_download
    downloader = getattr(nltk, "downloader", None)
    if downloader is not None and hasattr(downloader, "download"):
        downloader.download = offline_download
