"""Customer email end to end through a real SMTP relay: the acknowledgement, the agent's reply,
the status email and the resolution email with its survey link arrive threaded and multipart,
an answer to notify's own email threads back onto the ticket, and a note never leaves."""

from __future__ import annotations

import email
import threading
import uuid
from collections.abc import Iterator
from email.message import Message
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from tests.e2e.conftest import launch_stack
from tests.e2e.test_email_intake import mail
from tests.helpers import bearer, eventually
from tests.mail_parts import text_and_html
from ticketstream.devstack.processes import free_port
from ticketstream.devstack.stack import DevStack

SUPPORT = "support@ticketstream.local"
RFC822 = {"Content-Type": "message/rfc822"}


class Catcher:
    """The outbound relay: an SMTP server in its own thread that keeps every message."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self._lock:
            self._messages.append(email.message_from_bytes(envelope.original_content))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        with self._lock:
            return [m for m in self._messages if m["To"] == address]

    def everything(self) -> str:
        with self._lock:
            return "\n".join(m.as_string() for m in self._messages)


@pytest.fixture(scope="module")
def catcher() -> Iterator[tuple[Catcher, int]]:
    handler = Catcher()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def mail_stack(infrastructure, tmp_path_factory, catcher) -> Iterator[DevStack]:
    _, port = catcher
    yield from launch_stack(infrastructure, tmp_path_factory, smtp_url=f"smtp://127.0.0.1:{port}")


def assert_threaded(message: Message, ref: str, *, in_reply_to: str) -> None:
    assert f"[{ref}]" in message["Subject"]
    assert message["Reply-To"] == f"support+{ref}@ticketstream.local"
    assert message["In-Reply-To"] == in_reply_to
    assert in_reply_to in message["References"].split()
    assert message.get_content_type() == "multipart/alternative"
    text, html = text_and_html(message)
    assert text.strip() and "<html>" in html


class Agent:
    def __init__(self, client: httpx.AsyncClient, stack: DevStack) -> None:
        self.client = client
        self.tickets = stack.settings.service_url("tickets")
        self.headers = bearer(stack.settings, sub="alice", teams=["support"], name="Alice Agent")

    async def move(self, ref: str, status: str) -> None:
        """Change the status as a client would: on 412 (notify's delivery report moved the
        ticket on meanwhile) read the ticket again and retry."""
        for _ in range(5):
            ticket = (await self.client.get(f"{self.tickets}/v1/tickets/{ref}", headers=self.headers)).json()
            changed = await self.client.patch(
                f"{self.tickets}/v1/tickets/{ref}",
                json={"status": status},
                headers={**self.headers, "If-Match": f'"{ticket["version"]}"'},
            )
            if changed.status_code != 412:
                break
        assert changed.status_code == 200, changed.text

    async def reply(self, ref: str, body: str) -> str:
        sent = await self.client.post(
            f"{self.tickets}/v1/tickets/{ref}/replies", json={"body": body}, headers=self.headers
        )
        assert sent.status_code == 201, sent.text
        return str(sent.json()["interaction"]["message_id"])

    async def interactions(self, ref: str) -> list[dict[str, Any]]:
        url = f"{self.tickets}/v1/tickets/{ref}/interactions"
        return list((await self.client.get(url, headers=self.headers)).json()["items"])


async def test_customer_mail_arrives_threaded_and_answers_to_it_thread_back(mail_stack, catcher):
    relay, _ = catcher
    settings = mail_stack.settings
    ingest = settings.service_url("ingest")
    customer = f"noor.{uuid.uuid4().hex[:6]}@example.org"
    marker = f"secret-note-{uuid.uuid4().hex}"
    first_id = f"<{uuid.uuid4().hex}@example.org>"

    def arrived(fragment: str) -> Any:
        async def probe() -> list[Message]:
            return [m for m in relay.to(customer) if fragment in m["Subject"] or m["Message-ID"] == fragment]

        return probe

    async with httpx.AsyncClient(timeout=10) as client:
        desk = Agent(client, mail_stack)
        raw = mail(
            sender=f"Noor <{customer}>", subject="Export fails", body="CSV export hangs.", message_id=first_id
        )
        assert (
            await client.post(f"{ingest}/v1/inbound/email", content=raw, headers=RFC822)
        ).status_code == 202
        [ack] = await eventually(arrived("We received your request"), timeout=30)
        ref = ack["Subject"].split("]")[0].removeprefix("[")
        assert_threaded(ack, ref, in_reply_to=first_id)

        note_url = f"{desk.tickets}/v1/tickets/{ref}/notes"
        note = await client.post(note_url, json={"body": f"{marker} @bob"}, headers=desk.headers)
        assert note.status_code == 201
        reply_id = await desk.reply(ref, "Which browser do you use?")
        [reply_mail] = await eventually(arrived(reply_id), timeout=30)
        assert reply_mail["Subject"] == f"[{ref}] Export fails"
        assert_threaded(reply_mail, ref, in_reply_to=first_id)

        await desk.move(ref, "WAITING_ON_CUSTOMER")
        [status_mail] = await eventually(arrived("We need a little more from you"), timeout=30)
        assert_threaded(status_mail, ref, in_reply_to=reply_id)

        # notify.delivered of the status email precedes the next reply's on the ticket's partition:
        # once tickets marks that reply sent, it has learnt the status email's Message-ID too.
        nudge_id = await desk.reply(ref, "Any news on the browser?")

        async def nudge_sent() -> bool:
            return any(
                i["message_id"] == nudge_id and i["delivery_status"] == "sent"
                for i in await desk.interactions(ref)
            )

        await eventually(nudge_sent, timeout=30)
        answer_id = f"<{uuid.uuid4().hex}@example.org>"
        answer = mail(
            sender=customer,
            subject="Re: your question",  # no ref: only the Message-ID can thread it
            body="Firefox 140.",
            message_id=answer_id,
            in_reply_to=status_mail["Message-ID"],
            references=[status_mail["Message-ID"]],
        )
        assert (
            await client.post(f"{ingest}/v1/inbound/email", content=answer, headers=RFC822)
        ).status_code == 202

        async def threaded() -> list[dict[str, Any]]:
            return [i for i in await desk.interactions(ref) if i["message_id"] == answer_id]

        [answered] = await eventually(threaded, timeout=30)
        assert answered["type"] == "EMAIL_INBOUND"

        await desk.move(ref, "RESOLVED")
        [resolution] = await eventually(arrived("Your request is resolved"), timeout=30)
        assert_threaded(resolution, ref, in_reply_to=answer_id)
        text, html = text_and_html(resolution)
        survey = next(word for word in text.split() if "/v1/csat/" in word)
        assert survey.startswith(f"{ingest}/v1/csat/") and survey in html
        form = await client.get(survey)
        everything = relay.everything()
    assert form.status_code == 200 and ref in form.text
    assert marker not in everything, "an internal note's text reached an email"
