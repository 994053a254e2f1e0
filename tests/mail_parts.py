"""Reading the parts of an email notify sent (multipart/alternative: text and HTML)."""

from __future__ import annotations

from email.message import Message


def text_and_html(message: Message) -> tuple[str, str]:
    """The text/plain and text/html bodies of a message ("" for a part it lacks)."""
    found = {"text/plain": "", "text/html": ""}
    for part in message.walk():
        kind = part.get_content_type()
        if kind in found and not found[kind]:
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                found[kind] = payload.decode(part.get_content_charset() or "utf-8")
    return found["text/plain"], found["text/html"]
