"""Inbound HTML made safe to show in the console: no scripts, handlers, forms or remote tricks."""

from __future__ import annotations

import nh3

# cid: keeps inline images pointing at the message's own attachments.
URL_SCHEMES = frozenset({"http", "https", "mailto", "cid"})
MAX_HTML_CHARS = 2_000_000


def _only_own_images(tag: str, attribute: str, value: str) -> str | None:
    # A remote image is a tracking pixel that fires when an agent opens the message.
    if tag == "img" and attribute in {"src", "srcset"} and not value.strip().lower().startswith("cid:"):
        return None
    return value


def sanitise_html(html: str) -> str:
    """`html` with every active or dangerous construct removed (allow-list sanitiser); images
    only from the message's own parts (`cid:`), never fetched from elsewhere."""
    return nh3.clean(
        html[:MAX_HTML_CHARS],
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        attribute_filter=_only_own_images,
    )
