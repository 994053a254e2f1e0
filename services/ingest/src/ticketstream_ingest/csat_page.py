"""The satisfaction survey's HTML: the form, the thank-you page and the closed-survey page.

Every value that came from outside (ticket ref, comment) is HTML-escaped; the pages carry no
script and are served with a Content-Security-Policy that allows none. No IO here.
"""

from __future__ import annotations

from html import escape

from ticketstream.contracts.models import Csat

SCORE_LABELS = {
    1: "Very unhappy",
    2: "Unhappy",
    3: "Neutral",
    4: "Happy",
    5: "Very happy",
}

# No scripts, no external resources, no framing; the form may only post back here. The token is
# in the URL, so no Referer must carry it elsewhere.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;"
    "color:#1f2933}fieldset{border:0;padding:0}label{display:block;margin:.4rem 0}"
    "textarea{width:100%;min-height:6rem}button{margin-top:1rem;padding:.5rem 1.5rem}"
)


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def survey_form(*, ref: str, previous: Csat | None, comment_limit: int) -> str:
    """The 1 to 5 choice and a comment; a previous answer is shown so that it can be changed."""
    choices = "\n".join(
        f'<label><input type="radio" name="score" value="{score}" required'
        f"{' checked' if previous is not None and previous.score == score else ''}> "
        f"{score} - {escape(label)}</label>"
        for score, label in SCORE_LABELS.items()
    )
    comment = escape(previous.comment or "") if previous is not None else ""
    note = (
        "<p>You answered this survey before; sending it again replaces your answer.</p>\n"
        if previous is not None
        else ""
    )
    body = (
        f"<h1>How did we do on {escape(ref)}?</h1>\n{note}"
        '<form method="post">\n<fieldset>\n<legend>Your satisfaction</legend>\n'
        f"{choices}\n</fieldset>\n"
        f'<label for="comment">Anything you would like to tell us? (optional)</label>\n'
        f'<textarea id="comment" name="comment" maxlength="{comment_limit}">{comment}</textarea>\n'
        '<button type="submit">Send</button>\n</form>'
    )
    return _page(f"Your feedback on {ref}", body)


def thank_you(*, ref: str, csat: Csat) -> str:
    body = (
        f"<h1>Thank you</h1>\n<p>Your answer on {escape(ref)} was recorded: "
        f"{csat.score} - {escape(SCORE_LABELS[csat.score])}.</p>\n"
        "<p>You can change it by opening the link from the email again.</p>"
    )
    return _page("Thank you", body)


def unavailable(*, reason: str) -> str:
    body = f"<h1>This survey is not available</h1>\n<p>{escape(reason)}</p>"
    return _page("Survey not available", body)
