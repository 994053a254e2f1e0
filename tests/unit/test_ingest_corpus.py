"""The email corpus in tests/data/email: each message's expected outcome, from the team's notes.

`expected.json` says, per file, whether the message is a customer message, a bounce, a delivery
notice that is no failure, held in quarantine or refused, and the fields that must come out of
it exactly. Keys a file does not list are not checked for it; every file lists its outcome and
every parsed one its reply text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ticketstream_ingest.attachments import describe_email_attachments
from ticketstream_ingest.domain import InvalidEmailError, NotAnEmailError, ParsedEmail, parse_email
from ticketstream_ingest.sanitise import sanitise_html

CORPUS = Path(__file__).resolve().parents[1] / "data" / "email"
EXPECTED: dict[str, dict[str, Any]] = json.loads((CORPUS / "expected.json").read_text())
SUPPORT = "support@ticketstream.local"
NOT_FIELDS = {"describes", "outcome", "quarantine_reason"}


def test_the_corpus_is_large_and_every_file_has_an_expectation() -> None:
    files = sorted(path.name for path in CORPUS.glob("*.eml"))
    assert len(files) >= 40
    assert files == sorted(EXPECTED)


def actual_field(parsed: ParsedEmail, name: str) -> Any:
    match name:
        case "sender":
            return parsed.sender.email
        case "sender_name":
            return parsed.sender.name
        case "message_id_generated":
            return parsed.message_id_was_generated
        case "authentication":
            return parsed.authentication.model_dump() if parsed.authentication else None
        case "attachments":
            return [
                {"filename": f.filename, "content_type": f.content_type, "size": f.size, "inline": f.inline}
                for f in describe_email_attachments(parsed.attachments)
            ]
        case "bounce":
            bounce = parsed.bounce
            assert bounce is not None
            return {
                "failed_recipient": bounce.failed_recipient,
                "original_message_id": bounce.original_message_id,
                "permanent": bounce.permanent,
                "status": bounce.status,
            }
        case "text":
            return parsed.text_body
        case _:
            return getattr(parsed, name)


def check_text(parsed: ParsedEmail, expected: dict[str, Any]) -> None:
    for needle in expected.get("text_contains", []):
        assert needle in parsed.text_body
    for needle in expected.get("text_excludes", []):
        assert needle not in parsed.text_body
    html = sanitise_html(parsed.html_body) if parsed.html_body else ""
    for needle in expected.get("html_contains", []):
        assert needle in html
    for needle in expected.get("html_excludes", []):
        assert needle not in html


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_message(name: str) -> None:
    expected = EXPECTED[name]
    raw = (CORPUS / name).read_bytes()
    outcome = expected["outcome"]
    if outcome == "refused":
        with pytest.raises(NotAnEmailError):
            parse_email(raw, support_address=SUPPORT)
        return
    if outcome == "quarantine":
        assert expected["quarantine_reason"] == "malformed"
        with pytest.raises(InvalidEmailError) as held:
            parse_email(raw, support_address=SUPPORT)
        assert not isinstance(held.value, NotAnEmailError) and str(held.value)
        return
    parsed = parse_email(raw, support_address=SUPPORT)
    assert (parsed.bounce is not None) is (outcome == "bounce")
    assert parsed.delivery_notice is (outcome == "notice")
    assert "reply_text" in expected, "every parsed message says what its new text is"
    check_text(parsed, expected)
    fields = {
        key: value
        for key, value in expected.items()
        if key not in NOT_FIELDS and not key.startswith(("text_", "html_"))
    }
    fields.pop("known_issue", None)
    actual = {key: actual_field(parsed, key) for key in fields}
    assert actual == fields
