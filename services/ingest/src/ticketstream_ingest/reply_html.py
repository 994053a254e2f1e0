"""Where the quoted history starts in an HTML email, from the containers mail clients put it in.

Pure: the stdlib `html.parser` renders the body to text chunks and records the elements around them;
`split_html` then finds the first quote container and renders what lies before, in and after it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser
from typing import NamedTuple

from ticketstream_ingest import reply_markers as markers

_SKIPPED = frozenset({"script", "style", "title"})
# Block elements start a new line unless one was just started; <br> always ends the line.
_BLOCKS = frozenset(
    {"p", "div", "li", "ul", "ol", "tr", "table", "blockquote", "pre", "hr", "h1", "h2", "h3", "h4"}
)
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)
_SIGNATURE_CLASSES = frozenset({"gmail_signature", "gmail_signature_prefix", "moz-signature"})
# An Outlook header block starts within the first chunks of its bordered element.
_HEADER_CHUNKS = 16

# Every quote container carries one of these (lowercased) words; HTML without any is not parsed.
_CONTAINER_HINTS = ("gmail_quote", "yahoo_quoted", "cite", "divrplyfwdmsg", "appendonsend", "border-top")
_STRAY_LESS_THAN = re.compile(r"<(?![A-Za-z/!?])")

# Quote container kinds. "enclosing" containers hold the whole quote, so text after them is new;
# Outlook's markers only start the quote, which runs to the end of the message.
_ENCLOSING = frozenset({"gmail", "yahoo", "cite"})
_OUTLOOK = frozenset({"outlook", "outlook-border"})


@dataclass(slots=True)
class _Element:
    tag: str
    start: int  # index of the first chunk inside the element
    quote_depth: int  # blockquotes open around the element
    container: str | None  # quote container kind, if the element is one
    is_signature: bool
    end: int = -1  # index after the last chunk inside the element


class _Chunk(NamedTuple):  # a tuple: a large body renders to many of them
    text: str  # rendered text; '' for a line break
    quote_depth: int
    in_signature: bool
    brk: str = ""  # "soft" (block boundary) or "hard" (<br>, a newline in <pre>) for line breaks


class _Renderer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[_Chunk] = []
        self.elements: list[_Element] = []
        self._open: list[_Element] = []
        self._open_tags: Counter[str] = Counter()
        self._text: list[str] = []  # text since the last tag, one chunk once the next tag comes
        self._skipping = 0
        self._quote_depth = 0
        self._signature_depth = 0
        self._preformatted = 0

    def _flush(self) -> None:
        if self._text:
            self.chunks.append(_Chunk("".join(self._text), self._quote_depth, self._signature_depth > 0))
            self._text.clear()

    def _break(self, brk: str) -> None:
        self._flush()
        if brk == "soft" and self.chunks and self.chunks[-1].brk:
            return  # the line has just ended: nested blocks add nothing
        self.chunks.append(_Chunk("", self._quote_depth, self._signature_depth > 0, brk))

    def _push(self, element: _Element) -> None:
        self.elements.append(element)
        self._open.append(element)
        self._open_tags[element.tag] += 1
        self._quote_depth += element.tag == "blockquote"
        self._signature_depth += element.is_signature
        self._preformatted += element.tag == "pre"

    def _pop_to(self, position: int) -> None:
        for element in self._open[position:]:
            element.end = len(self.chunks)
            self._open_tags[element.tag] -= 1
            self._quote_depth -= element.tag == "blockquote"
            self._signature_depth -= element.is_signature
            self._preformatted -= element.tag == "pre"
        del self._open[position:]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._flush()
        if tag in _SKIPPED:
            self._skipping += 1
        if tag == "br":
            self._break("hard")
        elif tag in _BLOCKS:
            self._break("soft")
        if tag in _VOID:
            return
        values = {name.lower(): value or "" for name, value in attrs} if attrs else {}
        element = _Element(
            tag=tag,
            start=len(self.chunks),
            quote_depth=self._quote_depth,
            container=_container_kind(tag, values) if values else None,
            is_signature=bool(values)
            and (
                bool(_SIGNATURE_CLASSES.intersection(values.get("class", "").split()))
                or values.get("id", "").lower() == "signature"
            ),
        )
        self._push(element)

    def handle_endtag(self, tag: str) -> None:
        self._flush()
        if tag in _SKIPPED and self._skipping:
            self._skipping -= 1
        # Unclosed children (a <p> without </p>) end with their parent. A stray end tag is ignored
        # without a search, so each search ends at an element it closes: linear in all.
        if self._open_tags[tag]:
            position = len(self._open) - 1
            while self._open[position].tag != tag:
                position -= 1
            self._pop_to(position)
        if tag in _BLOCKS:
            self._break("soft")

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        if not self._preformatted:
            self._text.append(data)  # newlines in HTML text are spaces; _render() collapses them
            return
        for number, line in enumerate(data.split("\n")):
            if number:
                self._break("hard")
            self._text.append(line)

    def finish(self) -> None:
        """Take what feed() kept back, without close().

        close() is quadratic on some unclosed constructs ("<!--" with no end). What it would still
        emit is either text cut before a character reference, or an unterminated tag or comment,
        which browsers drop as well.
        """
        rest, self.rawdata = self.rawdata, ""
        if rest and not rest.startswith("<"):
            self.handle_data(unescape(rest))
        self._flush()
        self._pop_to(0)


def _container_kind(tag: str, attrs: dict[str, str]) -> str | None:
    classes = attrs.get("class", "").split()
    identifier = attrs.get("id", "")
    if any(name.startswith("gmail_quote") for name in classes):
        return "gmail"
    if "yahoo_quoted" in identifier or any("yahoo_quoted" in name for name in classes):
        return "yahoo"
    if "moz-cite-prefix" in classes:
        return "thunderbird"
    if tag == "blockquote" and attrs.get("type", "").lower() == "cite":
        return "cite"
    if identifier in ("divRplyFwdMsg", "appendonsend"):
        return "outlook"
    if "border-top" in attrs.get("style", "").lower():
        return "outlook-border"  # only when it holds a header block; checked in _quote_container
    return None


def _render(chunks: list[_Chunk]) -> str:
    """Chunks as text: whitespace collapsed within lines, at most one blank line in a row."""
    lines: list[str] = []
    current: list[str] = []
    for chunk in chunks:
        if not chunk.brk:
            current.append(chunk.text)
            continue
        line = " ".join("".join(current).split())
        if line or chunk.brk == "hard":
            lines.append(line)
        current = []
    lines.append(" ".join("".join(current).split()))
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    return "\n".join(kept).strip()


@dataclass(frozen=True)
class HtmlSplit:
    """An HTML body cut at its first quote container, each part rendered to text."""

    new: str  # before the signature element and the container
    signature: str  # a signature element (Gmail, Thunderbird, Outlook web) just above the container
    quoted: str  # the container and the history it holds
    after: str  # text outside the quote after it ended: a bottom signature or interleaved replies
    after_is_signature: bool  # all of `after` sits in signature elements


def _quote_container(renderer: _Renderer) -> _Element | None:
    for element in renderer.elements:  # in document order
        if element.container == "outlook-border":
            first_chunks = renderer.chunks[element.start : min(element.end, element.start + _HEADER_CHUNKS)]
            header = _render(first_chunks)
            if markers.leading_header_label(header) == "from":
                return element
        elif element.container is not None:
            return element
    return None


def _quote_end(renderer: _Renderer, container: _Element) -> int | None:
    """Index of the first chunk after the quote ended; None when it runs to the end of the body."""
    if container.container in _OUTLOOK:
        return None
    ends = [
        element.end
        for element in renderer.elements
        if element.tag == "blockquote" and element.quote_depth == 0 and element.start >= container.start
    ]
    if container.container in _ENCLOSING:
        ends.append(container.end)
    return min(ends) if ends else None


def split_html(html: str) -> HtmlSplit | None:
    """Cut `html` at its first quote container; None when it has none or cannot be parsed."""
    lowered = html.lower()
    if not any(hint in lowered for hint in _CONTAINER_HINTS):
        return None  # the common case, decided without parsing
    renderer = _Renderer()
    try:
        # A "<" that opens no tag is text; escaped, a run of them is one chunk instead of many.
        renderer.feed(_STRAY_LESS_THAN.sub("&lt;", html))
        renderer.finish()
    except AssertionError:  # html.parser reports some malformed declarations this way
        return None
    container = _quote_container(renderer)
    if container is None:
        return None
    chunks = renderer.chunks
    cut = container.start
    signature_start = min(
        (element.start for element in renderer.elements if element.is_signature and element.start < cut),
        default=cut,
    )
    quote_end = _quote_end(renderer, container)
    after_indexes = (
        set()
        if quote_end is None
        else {index for index in range(quote_end, len(chunks)) if chunks[index].quote_depth == 0}
    )
    after = [chunks[index] for index in sorted(after_indexes)]
    return HtmlSplit(
        new=_render(chunks[:signature_start]),
        signature=_render(chunks[signature_start:cut]),
        quoted=_render([chunks[index] for index in range(cut, len(chunks)) if index not in after_indexes]),
        after=_render(after),
        after_is_signature=all(chunk.in_signature or not chunk.text.strip() for chunk in after),
    )
