"""The support mailbox's addressing scheme, shared by whoever sends or receives its mail.

Replies come back to `support+TKT-0042@domain`, so the plus part carries the ticket ref.
"""

from __future__ import annotations

# Mail providers whose addresses say nothing about a customer's organisation.
FREE_MAIL_DOMAINS = frozenset(
    {
        "aol.com",
        "gmail.com",
        "googlemail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "hotmail.com",
        "hotmail.co.uk",
        "icloud.com",
        "live.com",
        "mac.com",
        "mail.com",
        "mail.ru",
        "me.com",
        "msn.com",
        "outlook.com",
        "proton.me",
        "protonmail.com",
        "qq.com",
        "163.com",
        "126.com",
        "t-online.de",
        "web.de",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.fr",
        "yandex.com",
        "yandex.ru",
        "zoho.com",
        "fastmail.com",
        "hey.com",
        "tutanota.com",
        "orange.fr",
        "free.fr",
        "libero.it",
    }
)


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].strip().lower()


def is_free_mail(address_or_domain: str) -> bool:
    return domain_of(address_or_domain) in FREE_MAIL_DOMAINS


def plus_address(support_address: str, ref: str) -> str:
    local, _, domain = support_address.partition("@")
    return f"{local}+{ref}@{domain}"


def is_support_address(address: str, support_address: str) -> bool:
    """The support address itself or one of its plus-addresses (support+TKT-0042@...)."""
    local, _, domain = address.lower().partition("@")
    support_local, _, support_domain = support_address.lower().partition("@")
    return domain == support_domain and local.split("+", 1)[0] == support_local
