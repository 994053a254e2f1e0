"""Reading the IMAP server's answers, as aioimaplib hands them over, without IO.

aioimaplib gives a command's untagged lines with the leading "* " and the command name of
SEARCH removed, a literal (a message body) as its own `bytearray` item right after the line that
announced it, and the tagged completion text as the last line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

Lines = Sequence[bytes | bytearray]

_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]", re.IGNORECASE)
_FETCH = re.compile(rb"^\d+ FETCH \(", re.IGNORECASE)
_UID = re.compile(rb"\bUID (\d+)", re.IGNORECASE)
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)", re.IGNORECASE)
_BODY_LITERAL = re.compile(rb"\bBODY\[(HEADER)?\] \{\d+\}$", re.IGNORECASE)


class ImapResponseError(ValueError):
    """The server answered something the connector cannot use."""


def uidvalidity_of(select_lines: Lines) -> int:
    """The folder's UIDVALIDITY from a SELECT answer (servers must send it, RFC 3501 §6.3.1)."""
    for line in select_lines:
        match = _UIDVALIDITY.search(bytes(line))
        if match:
            return int(match.group(1))
    raise ImapResponseError("the server did not say the folder's UIDVALIDITY")


def searched_uids(search_lines: Lines) -> list[int]:
    """UIDs of a `UID SEARCH` answer. The last line is the completion text ("Search completed
    (0.001 secs)"), whose numbers are not UIDs."""
    uids: list[int] = []
    for line in search_lines[:-1]:
        if isinstance(line, bytearray):
            continue
        words = bytes(line).split()
        if words and words[0].upper() == b"SEARCH":
            words = words[1:]
        uids.extend(int(word) for word in words if word.isdigit())
    return uids


def fetched_sizes(fetch_lines: Lines) -> dict[int, int]:
    """UID -> RFC822.SIZE from a `UID FETCH ... (UID RFC822.SIZE)` answer."""
    sizes: dict[int, int] = {}
    for line in fetch_lines:
        if isinstance(line, bytearray) or not _FETCH.match(line):
            continue
        uid, size = _UID.search(line), _SIZE.search(line)
        if uid and size:
            sizes[int(uid.group(1))] = int(size.group(1))
    return sizes


def fetched_bodies(fetch_lines: Lines) -> dict[int, bytes]:
    """UID -> raw message (or header block) from a `UID FETCH ... (UID BODY.PEEK[])` answer
    (or `BODY.PEEK[HEADER]`).

    A FETCH line that announces the body literal is followed by the literal and then by the
    rest of the item (")" or, on some servers, " UID 7)"), so the UID is looked for in both.
    Unsolicited FETCH lines (flag changes) carry no body and are passed over.
    """
    bodies: dict[int, bytes] = {}
    index = 0
    while index < len(fetch_lines):
        line = fetch_lines[index]
        index += 1
        if isinstance(line, bytearray) or not _FETCH.match(line) or not _BODY_LITERAL.search(line):
            continue
        if index >= len(fetch_lines) or not isinstance(fetch_lines[index], bytearray):
            raise ImapResponseError("a FETCH answer announced a message body but did not carry it")
        body = bytes(fetch_lines[index])
        index += 1
        rest = bytes(fetch_lines[index]) if index < len(fetch_lines) else b""
        uid = _UID.search(line) or _UID.search(rest)
        if uid is None:
            raise ImapResponseError("a FETCH answer carried a message body without its UID")
        bodies[int(uid.group(1))] = body
    return bodies


def quoted(text: str) -> str:
    """An IMAP quoted string (RFC 3501 §4.3): backslash and double quote escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
