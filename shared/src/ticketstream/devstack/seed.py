"""Demo data for a fresh stack, created through the public APIs as a user would."""

from __future__ import annotations

from email.message import EmailMessage

import httpx

from ticketstream.auth import Role, issue_dev_token
from ticketstream.settings import PlatformSettings

DEMO_EMAILS = (
    (
        "Dana Whitfield",
        "dana@northwind.example",
        "Invoices are not arriving",
        "Hi, since Monday our finance team has not received the monthly invoices by email.",
    ),
    (
        "Lee Okafor",
        "lee@contoso.example",
        "Cannot reset my password",
        "The reset link says it has expired as soon as I click it. Can you help?",
    ),
)
DEMO_API_TICKETS = (
    {
        "title": "Export to CSV times out for large accounts",
        "priority": "HIGH",
        "type": "BUG",
        "requester": {"email": "sam@fabrikam.example", "name": "Sam Rivera"},
        "tags": ["export"],
    },
    {
        "title": "Please add SSO for our team",
        "priority": "LOW",
        "type": "FEATURE",
        "requester": {"email": "ines@fabrikam.example", "name": "Ines Duarte"},
    },
)


def demo_email(name: str, address: str, subject: str, body: str, support: str) -> bytes:
    message = EmailMessage()
    message["From"] = f"{name} <{address}>"
    message["To"] = support
    message["Subject"] = subject
    # A fixed Message-ID: seeding twice is recognised as a duplicate by ingest.
    message["Message-ID"] = f"<seed.{address}@ticketstream.demo>"
    message.set_content(body)
    return message.as_bytes()


def seed_demo_data(settings: PlatformSettings) -> int:
    """Create the demo tickets unless the stack already has tickets; return how many were sent."""
    token = issue_dev_token(settings, sub="seed", role=Role.ADMIN, name="Seeder")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(timeout=10) as client:
        existing = client.get(f"{settings.service_url('tickets')}/v1/tickets?limit=1", headers=headers)
        existing.raise_for_status()
        if existing.json()["items"]:
            return 0
        for name, address, subject, body in DEMO_EMAILS:
            client.post(
                f"{settings.service_url('ingest')}/v1/inbound/email",
                content=demo_email(name, address, subject, body, settings.support_address),
                headers={"Content-Type": "message/rfc822"},
            ).raise_for_status()
        for ticket in DEMO_API_TICKETS:
            client.post(
                f"{settings.service_url('tickets')}/v1/tickets", json=ticket, headers=headers
            ).raise_for_status()
    return len(DEMO_EMAILS) + len(DEMO_API_TICKETS)
