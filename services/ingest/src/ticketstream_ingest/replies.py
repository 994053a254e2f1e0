"""Reply extraction: the new text a sender wrote, without the quoted history and the signature.

Pure, standard library only. Mail clients quote the message they answer below a reply header
("On <date>, <name> wrote:", Outlook's "From: / Sent:" block, "> " lines) and close with a
signature; agents want only what is new. When in doubt this module cuts nothing: losing a
customer's words is worse than showing some history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

from ticketstream_ingest import reply_markers as markers
from ticketstream_ingest.reply_html import split_html

# A reply header wrapped by the client spans at most this many lines.
MAX_ATTRIBUTION_LINES = 3
# Text after a "-- " delimiter longer than this is not a signature but content.
MAX_SIGNATURE_LINES = 15
# After a bare "--" (trailing space lost) only a short, signature-like block is taken.
MAX_BARE_SIGNATURE_LINES = 6
MAX_BARE_SIGNATURE_LINE_LENGTH = 80
# How far below an underscore separator Outlook's header block may start.
MAX_SEPARATOR_GAP = 2
# How many lines an Outlook header block (From, Sent, To, Cc, Subject, wrapped values) spans.
MAX_HEADER_BLOCK_LINES = 8
# A forwarded message inside an HTML quote container is announced within its first lines.
MAX_FORWARD_MARKER_LINE = 3

_LINE_BREAKS = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


@dataclass(frozen=True)
class ExtractedReply:
    """A message body split into the new text, the quoted history and the signature."""

    text: str  # the new text the sender wrote, stripped
    quoted: str  # the quoted history that was cut ('' when none)
    signature: str  # the signature that was cut ('' when none)

    @property
    def was_cut(self) -> bool:
        """Something was removed from the body: quoted history or a signature."""
        return bool(self.quoted or self.signature)


class _Line(NamedTuple):  # a tuple: bodies of a megabyte have tens of thousands of lines
    number: int  # line number in the body
    start: int  # offset of the line in the body
    raw: str  # the line without its line break
    text: str  # the line stripped, never empty: blank lines are left out


class _Kind(Enum):
    QUOTE_MARKS = "quote-marks"  # "> " lines
    ATTRIBUTION = "attribution"  # "On <date>, <name> wrote:"
    HEADER = "header"  # Outlook's separator and "From: / Sent:" block
    FORWARD = "forward"  # a forwarded message: not history, never cut


@dataclass(frozen=True)
class _QuoteStart:
    index: int  # first line of the quoted history
    kind: _Kind
    body: int  # first line after the reply header


def extract_reply(text: str, *, html: str | None = None) -> ExtractedReply:
    """Split a message body into the new text, the quoted history and the signature.

    `text` is the plain-text body; `html` the original HTML when the message had some. The quote
    containers of common clients in the HTML decide first; the text heuristics are the fallback.
    Promises: never raises; when nothing is cut, `text` is the whole body stripped and `quoted`
    and `signature` are ''; a forwarded message and a reply written between or below quote blocks
    are kept whole; a message that is only quoted history gives `text == ''`. From `text` alone,
    the three parts are stripped slices of the body, so nothing is ever invented.
    """
    if html:
        from_html = _extract_from_html(text, html)
        if from_html is not None:
            return from_html
    return _extract_from_text(text)


# --- plain text -------------------------------------------------------------------------------


def _lines(body: str) -> list[_Line]:
    """The non-blank lines of the body, with their numbers and offsets."""
    lines: list[_Line] = []
    offset = 0
    for number, piece in enumerate(body.splitlines(keepends=True)):
        text = piece.strip()
        if text:
            lines.append(_Line(number, offset, piece.rstrip(_LINE_BREAKS), text))
        offset += len(piece)
    return lines


def _adjacent(lines: Sequence[_Line], upper: int, lower: int) -> bool:
    """Line `lower` comes right below line `upper`, with no blank line between."""
    return lines[lower].number == lines[upper].number + 1


def _extract_from_text(body: str) -> ExtractedReply:
    lines = _lines(body)
    found = _find_quote_start(lines)
    if found is not None and found.kind is _Kind.FORWARD:
        return _uncut(body)
    quote = len(lines) if found is None else found.index
    trailing = len(lines)
    if found is not None and _is_followed_by_quote_marks(lines, found):
        tail = _first_line_after_quote_block(lines, found.body)
        if tail is not None:
            if not _is_signature_block(lines[tail:]):
                return _uncut(body)  # new text between or below quote blocks: keep it all
            trailing = tail
    signature = _signature_start(lines, quote)
    return _slices(body, lines, signature=signature, quote=quote, trailing=trailing)


def _uncut(body: str) -> ExtractedReply:
    return ExtractedReply(text=body.strip(), quoted="", signature="")


def _slices(body: str, lines: list[_Line], *, signature: int, quote: int, trailing: int) -> ExtractedReply:
    def offset(index: int) -> int:
        return lines[index].start if index < len(lines) else len(body)

    text = body[: offset(signature)].strip()
    if signature == quote and trailing < len(lines):
        # Signed below the quote, and nothing above it: that signature is the one cut.
        return ExtractedReply(
            text=text,
            quoted=body[offset(quote) : offset(trailing)].strip(),
            signature=body[offset(trailing) :].strip(),
        )
    return ExtractedReply(
        text=text,
        quoted=body[offset(quote) :].strip(),
        signature=body[offset(signature) : offset(quote)].strip(),
    )


def _find_quote_start(lines: Sequence[_Line]) -> _QuoteStart | None:
    """The first quoted line, reply header or forward marker, whichever comes first."""
    ending_header = _next_colon_endings(lines)
    for index, line in enumerate(lines):
        if markers.is_quoted(line.text):
            return _QuoteStart(index, _Kind.QUOTE_MARKS, index)
        if len(line.text) > markers.MAX_MARKER_LENGTH:
            continue
        kind = _separator_kind(lines, index)
        if kind is not None:
            return _QuoteStart(index, kind, index + 1)
        if ending_header[index] - index >= MAX_ATTRIBUTION_LINES:
            continue  # no line that could end a reply header comes soon enough
        last = _attribution_end(lines, index)
        if last is not None:
            return _QuoteStart(index, _Kind.ATTRIBUTION, last + 1)
    return None


def _separator_kind(lines: Sequence[_Line], index: int) -> _Kind | None:
    """A forward marker, Outlook separator or header block at line `index`, if there is one."""
    text = lines[index].text
    # Separators start with "-" or "_"; headers and forward markers hold a colon. Most lines of
    # prose have neither.
    if text[0] == "-":
        if markers.is_forward_marker(text):
            return _Kind.FORWARD
        return _Kind.HEADER if markers.is_original_message_separator(text) else None
    if text[0] == "_":
        return _Kind.HEADER if _is_separator_above_header(lines, index) else None
    if ":" in text or markers.FULLWIDTH_COLON in text:
        if markers.is_forward_marker(text):
            return _Kind.FORWARD
        if _is_header_block(lines, index):
            return _Kind.HEADER
    return None


def _next_colon_endings(lines: Sequence[_Line]) -> list[int]:
    """For each line, the index of the first line at or below it that ends with a colon."""
    following = [len(lines) + MAX_ATTRIBUTION_LINES] * (len(lines) + 1)
    for index in range(len(lines) - 1, -1, -1):
        ends = lines[index].text.endswith((":", markers.FULLWIDTH_COLON))
        following[index] = index if ends else following[index + 1]
    return following


def _is_separator_above_header(lines: Sequence[_Line], index: int) -> bool:
    below = index + 1
    return (
        markers.is_underscore_separator(lines[index].text)
        and below < len(lines)
        and lines[below].number - lines[index].number <= MAX_SEPARATOR_GAP
        and _is_header_block(lines, below)
    )


def _is_header_block(lines: Sequence[_Line], index: int) -> bool:
    """Outlook's "From: … Sent: … To: … Subject: …" block starts at `index` (one line or several)."""
    if markers.leading_header_label(lines[index].text) != "from":
        return False
    kinds = markers.header_labels(lines[index].text)
    for below in range(index + 1, min(index + MAX_HEADER_BLOCK_LINES, len(lines))):
        if not _adjacent(lines, below - 1, below) or markers.is_quoted(lines[below].text):
            break
        kind = markers.leading_header_label(lines[below].text)
        if kind == "from":
            break  # the next block: this one had no Sent line
        if kind is not None:
            kinds.add(kind)
    return "sent" in kinds and bool(kinds & {"to", "subject"})


def _window(lines: Sequence[_Line], first: int, last: int) -> str:
    return " ".join(line.text for line in lines[first : last + 1])


def _attribution_end(lines: Sequence[_Line], index: int) -> int | None:
    """Last line of a reply header starting at `index`, possibly wrapped over a few lines."""
    for last in range(index, min(index + MAX_ATTRIBUTION_LINES, len(lines))):
        text = lines[last].text
        if last > index and (not _adjacent(lines, last - 1, last) or markers.is_quoted(text)):
            return None
        if not text.endswith((":", markers.FULLWIDTH_COLON)):
            continue  # a header ends with a colon: no need to look closer
        window = _window(lines, index, last)
        if len(window) > markers.MAX_MARKER_LENGTH:
            return None
        if not markers.is_attribution(window, wrapped=last > index):
            continue
        if last > index and _is_text_above_header(lines, index, last):
            return None
        followed_by_quote = last + 1 < len(lines) and markers.is_quoted(lines[last + 1].text)
        if followed_by_quote or markers.looks_dated(window):
            return last
    return None


def _is_text_above_header(lines: Sequence[_Line], index: int, last: int) -> bool:
    """In a wrapped header, line `index` is really a sentence above a header on a later line."""
    if lines[index].text.endswith((".", "!", "?")):
        return True  # clients wrap headers at spaces, never after a full sentence
    return markers.is_attribution(_window(lines, index + 1, last), wrapped=True)


def _is_followed_by_quote_marks(lines: Sequence[_Line], found: _QuoteStart) -> bool:
    """The quoted history is in "> " lines, so new text below it can be told apart."""
    if found.kind is _Kind.QUOTE_MARKS:
        return True
    if found.kind is _Kind.HEADER:
        return False  # Outlook quotes without marks: everything below the header is history
    return found.body < len(lines) and markers.is_quoted(lines[found.body].text)


def _first_line_after_quote_block(lines: Sequence[_Line], start: int) -> int | None:
    """The first unquoted line that follows a quoted line, if any."""
    seen_quote = False
    for index in range(start, len(lines)):
        if markers.is_quoted(lines[index].text):
            seen_quote = True
        elif seen_quote:
            return index
    return None


def _is_signature_block(lines: Sequence[_Line]) -> bool:
    """The lines are only a signature: a delimiter and a few lines, or a mobile footer."""
    if not lines or any(markers.is_quoted(line.text) for line in lines):
        return False
    if _delimits_signature(lines[0], lines[1:]):
        return True
    return len(lines) <= 2 and all(markers.is_mobile_footer(line.text) for line in lines)


def _delimits_signature(line: _Line, below: Sequence[_Line]) -> bool:
    if markers.is_signature_delimiter(line.raw):
        return len(below) <= MAX_SIGNATURE_LINES
    return (
        markers.is_bare_signature_delimiter(line.text)
        and 0 < len(below) <= MAX_BARE_SIGNATURE_LINES
        and all(len(other.text) <= MAX_BARE_SIGNATURE_LINE_LENGTH for other in below)
    )


def _signature_start(lines: Sequence[_Line], end: int) -> int:
    """First line of the signature above line `end` (`end` itself when there is none)."""
    lowest = max(end - MAX_SIGNATURE_LINES - 1, 0)
    for index in range(end - 1, lowest - 1, -1):  # the last delimiter wins
        if _delimits_signature(lines[index], lines[index + 1 : end]):
            return index
    if end > 0 and markers.is_mobile_footer(lines[end - 1].text):
        return end - 1
    return end


# --- HTML -------------------------------------------------------------------------------------


def _extract_from_html(body: str, html: str) -> ExtractedReply | None:
    """The reply as the HTML's quote container shows it; None when the HTML has no container."""
    split = split_html(html)
    if split is None:
        return None
    quoted_head = [line.strip() for line in split.quoted.splitlines() if line.strip()]
    new_lines = [line.strip() for line in split.new.splitlines()]
    if any(markers.is_forward_marker(line) for line in quoted_head[:MAX_FORWARD_MARKER_LINE]) or any(
        markers.is_forward_marker(line) for line in new_lines if not markers.is_quoted(line)
    ):
        return _uncut(body)
    trailing_signature = ""
    if split.after:
        if not (split.after_is_signature or _is_signature_block(_lines(split.after))):
            return _uncut(body)  # new text below or between quote blocks: keep it all
        trailing_signature = split.after
    # The part above the container may still end with a reply header (Apple Mail puts it there)
    # or hold a plain-text signature.
    above = _extract_from_text(split.new)
    reply = ExtractedReply(
        text=above.text,
        quoted=_joined(above.quoted, split.quoted),
        signature=_joined(above.signature, split.signature, trailing_signature),
    )
    return reply if reply.was_cut else _uncut(body)


def _joined(*parts: str) -> str:
    return "\n\n".join(part for part in parts if part)
