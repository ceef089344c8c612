"""Render a shop page (HTML) as the text a model reads, with its clickable elements marked.

Clickable elements are those with a ``data-label`` attribute; they appear as ``[label]``
(``[label] (selected)`` for a selected option). Scripts, styles and form fields are dropped;
everything else is plain text, so nothing in a page can reach the model as markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

__all__ = ["TextPage", "html_to_page"]

_BLOCK = {"p", "div", "h1", "h2", "h3", "h4", "li", "ul", "tr", "br", "header", "main", "form"}
_SKIP = {"script", "style", "head", "title", "noscript", "template"}
_SPACES = re.compile(r"[ \t]+")


@dataclass
class TextPage:
    """A page as text plus its clickable labels.

    Attributes:
        text: the rendering the model reads.
        links: label -> href of every clickable element (the first wins on duplicates).
        title: the page title.
    """

    text: str
    links: dict[str, str] = field(default_factory=dict)
    title: str = ""


class _Renderer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.links: dict[str, str] = {}
        self.title = ""
        self._skip = 0
        self._in_title = False
        self._label_depth = 0
        self._stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "title":
            self._in_title = True
        if tag in _SKIP:
            self._skip += 1
            return
        if tag in _BLOCK:
            self.out.append("\n")
        if tag == "li":
            self.out.append("- ")
        label = a.get("data-label")
        if label is not None and not self._skip:
            label = " ".join(label.split())
            self.links.setdefault(label, a.get("href") or "")
            sel = " (selected)" if a.get("data-selected") else ""
            self.out.append(f" [{label}]{sel} ")
            if tag not in {"input", "img", "br"}:
                self._label_depth += 1
                self._stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
            return
        if self._stack and self._stack[-1] == tag:
            self._stack.pop()
            self._label_depth -= 1
        if tag in _BLOCK:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if self._skip or self._label_depth:
            return
        self.out.append(data)


def html_to_page(html: str) -> TextPage:
    """Render ``html`` as a :class:`TextPage`."""
    r = _Renderer()
    r.feed(html)
    r.close()
    lines = []
    for line in "".join(r.out).splitlines():
        line = _SPACES.sub(" ", line).strip()
        if line:
            lines.append(line)
    return TextPage(text="\n".join(lines), links=r.links, title=" ".join(r.title.split()))
