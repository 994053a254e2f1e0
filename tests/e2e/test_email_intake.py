"""Email end to end, as customers' mail clients and providers send it: SMTP and the webhook in,
tickets, interactions and dev mail out, through all five services."""

from __future__ import annotations

import asyncio
import smtplib
import uuid
from email import policy
from email.message import EmailMessage
from typing import Any

import httpx

from tests.helpers import bearer, eventually
from ticketstream.devstack.stack import DevStack

SUPPORT = "support@ticketstream.local"
RFC822 = {"Content-Type": "message/rfc822"}


def mail(
    *,
    sender: str,
    subject: str,
    body: str,
    message_id: str,
    to: str = SUPPORT,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = " ".join(references)
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message.as_bytes(policy=policy.SMTP)


def smtp_send(stack: DevStack, raw: bytes, recipient: str = SUPPORT) -> None:
    port = int(stack.environ["TICKETSTREAM_SMTP_PORT"])
    with smtplib.SMTP(stack.settings.http_host, port, timeout=10) as smtp:
        smtp.sendmail("customer@example.com", [recipient], raw)


class Desk:
    """The agent's and the mail provider's view of one stack."""

    def __init__(self, stack: DevStack, client: httpx.AsyncClient) -> None:
        self.stack = stack
        self.client = client
        self.settings = stack.settings
        self.agent = bearer(self.settings, sub="alice", teams=["support"], name="Alice Agent")

    def url(self, service: str, path: str) -> str:
        return f"{self.settings.service_url(service)}{path}"

    async def post_mail(self, raw: bytes) -> dict[str, Any]:
        response = await self.client.post(
            self.url("ingest", "/v1/inbound/email"), content=raw, headers=RFC822
        )
        assert response.status_code in (200, 202), response.text
        return dict(response.json())

    async def ticket_titled(self, title: str) -> dict[str, Any]:
        async def find() -> list[dict[str, Any]]:
            page = await self.client.get(
                self.url("tickets", f"/v1/tickets?q={title.rsplit(maxsplit=1)[-1]}"), headers=self.agent
            )
            return [t for t in page.json()["items"] if t["title"] == title]

        [ticket] = await eventually(find, timeout=30)
        return ticket

    async def interactions(self, ref: str) -> list[dict[str, Any]]:
        response = await self.client.get(
            self.url("tickets", f"/v1/tickets/{ref}/interactions"), headers=self.agent
        )
        assert response.status_code == 200, response.text
        return list(response.json()["items"])

    async def interactions_until(self, ref: str, count: int) -> list[dict[str, Any]]:
        async def enough() -> list[dict[str, Any]] | None:
            items = await self.interactions(ref)
            return items if len(items) >= count else None

        return await eventually(enough, timeout=30)

    async def ticket(self, ref: str) -> dict[str, Any]:
        return dict(
            (await self.client.get(self.url("tickets", f"/v1/tickets/{ref}"), headers=self.agent)).json()
        )

    async def resolve(self, ref: str) -> None:
        """Resolve as an agent would: with the version just read, again if sla stamped it meanwhile."""

        async def attempt() -> bool:
            version = (await self.ticket(ref))["version"]
            response = await self.client.patch(
                self.url("tickets", f"/v1/tickets/{ref}"),
                json={"status": "RESOLVED", "resolution_notes": "Restarted"},
                headers={**self.agent, "If-Match": f'"{version}"'},
            )
            assert response.status_code in (200, 412), response.text
            return response.status_code == 200

        await eventually(attempt, timeout=15)

    async def dev_mail_to(self, address: str) -> list[dict[str, Any]]:
        page = await self.client.get(self.url("notify", "/v1/dev/mail?limit=500"), headers=self.agent)
        return [m for m in page.json()["items"] if m["to"] == address]


async def test_a_conversation_by_email_stays_on_one_ticket(stack):
    tag = uuid.uuid4().hex[:8]
    customer = f"lena.{tag}@customer.example"
    first_id = f"<first.{tag}@customer.example>"
    title = f"Invoices missing {tag}"
    async with httpx.AsyncClient(timeout=10) as client:
        desk = Desk(stack, client)
        await asyncio.to_thread(
            smtp_send,
            stack,
            mail(
                sender=f"Lena <{customer}>", subject=title, body="Where are my invoices?", message_id=first_id
            ),
        )
        ticket = await desk.ticket_titled(title)
        ref = ticket["ref"]

        # The customer answers the acknowledgement from their mail client: In-Reply-To and a quote.
        [acknowledgement] = await eventually(lambda: desk.dev_mail_to(customer), timeout=30)
        reply_id = f"<second.{tag}@customer.example>"
        answer = mail(
            sender=f"Lena <{customer}>",
            subject=f"Re: {acknowledgement['subject']}",
            body=(
                "It is invoice 4711.\n\n"
                f"On Tue, 3 Mar 2026 at 10:15, Support <{SUPPORT}> wrote:\n> We received your request.\n"
            ),
            message_id=reply_id,
            in_reply_to=acknowledgement["message_id"],
            references=[first_id, acknowledgement["message_id"]],
        )
        sent_by_webhook = await desk.post_mail(answer)
        await asyncio.to_thread(smtp_send, stack, answer)  # the same message again, over SMTP
        again_by_webhook = await desk.post_mail(answer)
        await desk.interactions_until(ref, 2)

        # The agent replies; the customer's client sends no In-Reply-To and keeps only the agent's
        # Message-ID in References.
        agent_reply = await client.post(
            desk.url("tickets", f"/v1/tickets/{ref}/replies"),
            json={"body": "Found it, resending."},
            headers=desk.agent,
        )
        assert agent_reply.status_code == 201, agent_reply.text
        outbound_id = agent_reply.json()["interaction"]["message_id"]
        thanks_id = f"<third.{tag}@customer.example>"
        await desk.post_mail(
            mail(
                sender=f"Lena <{customer}>",
                subject="Re: your invoices",
                body="Got it, thanks!",
                message_id=thanks_id,
                references=[outbound_id],
            )
        )
        items = await desk.interactions_until(ref, 4)
        await asyncio.sleep(1)  # a wrongly duplicated interaction would arrive by now
        items = await desk.interactions(ref)

    assert sent_by_webhook["status"] == "accepted"
    assert again_by_webhook["status"] == "duplicate"
    inbound = [i for i in items if i["type"] == "EMAIL_INBOUND"]
    assert [i["message_id"] for i in inbound] == [first_id, reply_id, thanks_id]
    assert inbound[1]["body_text"] == "It is invoice 4711."
    assert "We received your request" in inbound[1]["full_text"]
    assert inbound[1]["threading_reason"].startswith("matched In-Reply-To to ")
    assert inbound[2]["threading_reason"] == f"matched References to outbound reply of {ref}"
    assert [i["type"] for i in items].count("EMAIL_OUTBOUND") == 1


async def test_an_out_of_office_never_reopens_nor_is_acknowledged_and_a_bounce_shows_on_the_reply(stack):
    tag = uuid.uuid4().hex[:8]
    customer = f"omar.{tag}@customer.example"
    first_id = f"<oof-first.{tag}@customer.example>"
    title = f"Printer offline {tag}"
    async with httpx.AsyncClient(timeout=10) as client:
        desk = Desk(stack, client)
        await desk.post_mail(
            mail(sender=customer, subject=title, body="Printer is offline.", message_id=first_id)
        )
        ref = (await desk.ticket_titled(title))["ref"]
        reply = await client.post(
            desk.url("tickets", f"/v1/tickets/{ref}/replies"),
            json={"body": "Please restart it."},
            headers=desk.agent,
        )
        outbound_id = reply.json()["interaction"]["message_id"]
        await desk.resolve(ref)

        # The customer's out-of-office answers the agent's reply.
        await desk.post_mail(
            mail(
                sender=customer,
                subject=f"Automatic reply: [{ref}] {title}",
                body="I am out of the office until Monday.",
                message_id=f"<oof.{tag}@customer.example>",
                in_reply_to=outbound_id,
                references=[first_id, outbound_id],
                headers={"Auto-Submitted": "auto-replied"},
            )
        )
        # Someone else's out-of-office, in no thread, opens a ticket that nobody acknowledges.
        stranger = f"away.{tag}@elsewhere.example"
        await desk.post_mail(
            mail(
                sender=stranger,
                subject=f"Out of office {tag}",
                body="Away.",
                message_id=f"<away.{tag}@elsewhere.example>",
                headers={"X-Autoreply": "yes"},
            )
        )
        stranger_ticket = await desk.ticket_titled(f"Out of office {tag}")
        # The mail server of the customer's colleague bounces the agent's reply.
        bounce = (
            "From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>\r\n"
            f"To: {SUPPORT}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
            f"Message-ID: <dsn.{tag}@mx.customer.example>\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="R"\r\n\r\n'
            "--R\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
            "--R\r\nContent-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; mx.customer.example\r\n\r\n"
            f"Final-Recipient: rfc822; {customer}\r\nAction: failed\r\nStatus: 5.2.2\r\n"
            "Diagnostic-Code: smtp; 552 5.2.2 mailbox full\r\n"
            f"--R\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {outbound_id}\r\n--R--\r\n"
        ).encode()
        assert (await desk.post_mail(bounce))["status"] == "accepted"

        async def bounced() -> list[dict[str, Any]]:
            items = await desk.interactions(ref)
            return [i for i in items if i["message_id"] == outbound_id and i["delivery_status"] == "bounced"]

        [bounced_reply] = await eventually(bounced, timeout=30)
        items = await desk.interactions(ref)
        ticket = await desk.ticket(ref)
        await asyncio.sleep(1)  # an acknowledgement, if one were wrongly sent, arrives by now
        stranger_mail = await desk.dev_mail_to(stranger)

    oof = [i for i in items if i["message_id"] == f"<oof.{tag}@customer.example>"]
    assert len(oof) == 1 and oof[0]["auto_submitted"] is True
    assert ticket["status"] == "RESOLVED", "an out-of-office must not reopen the ticket"
    assert "mailbox full" in bounced_reply["delivery_detail"]
    assert "auto-reply" in stranger_ticket["tags"]
    assert stranger_mail == [], "an auto-reply must never be acknowledged"
