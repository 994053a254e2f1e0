"""The thin vertical slice, driven as a user would: SMTP and HTTP in, HTTP and Kafka out."""

from __future__ import annotations

import asyncio
import json
import smtplib
import uuid

import httpx

from tests.helpers import bearer, eventually, make_email, read_topic
from ticketstream.auth import Role
from ticketstream.contracts import topics


def smtp_send(host: str, port: int, raw: bytes, recipient: str = "support@ticketstream.local") -> None:
    with smtplib.SMTP(host, port, timeout=10) as smtp:
        smtp.sendmail("customer@example.com", [recipient], raw)


async def test_an_email_flows_through_all_five_services(stack):
    settings = stack.settings
    smtp_port = int(stack.environ["TICKETSTREAM_SMTP_PORT"])
    staff = bearer(settings, sub="alice", teams=["support"])
    subject = f"VPN drops every hour {uuid.uuid4().hex[:6]}"
    raw = make_email(sender="Noor Haddad <noor@example.org>", subject=subject)
    await asyncio.to_thread(smtp_send, settings.http_host, smtp_port, raw)

    async with httpx.AsyncClient(timeout=5) as client:

        async def ticket_listed():
            response = await client.get(f"{settings.service_url('tickets')}/v1/tickets", headers=staff)
            return [t for t in response.json()["items"] if t["title"] == subject]

        # How fast is measured in tests/bench (email -> visible latency); here only that it happens.
        [ticket] = await eventually(ticket_listed, timeout=30)
        ref = ticket["ref"]

        async def clock():
            response = await client.get(f"{settings.service_url('sla')}/v1/clocks/{ref}", headers=staff)
            return response.json() if response.status_code == 200 else None

        async def notification():
            response = await client.get(f"{settings.service_url('notify')}/v1/notifications", headers=staff)
            return [n for n in response.json()["items"] if n["ref"] == ref]

        async def acknowledgement():
            response = await client.get(f"{settings.service_url('notify')}/v1/dev/mail", headers=staff)
            return [m for m in response.json()["items"] if m["subject"].startswith(f"[{ref}]")]

        async def counted():
            response = await client.get(
                f"{settings.service_url('analytics')}/v1/reports/volume?interval=day", headers=staff
            )
            return response.json() if response.json()["total"] >= 1 else None

        sla_view = await eventually(clock, timeout=10)
        [note] = await eventually(notification, timeout=10)
        [mail] = await eventually(acknowledgement, timeout=10)
        volume = await eventually(counted, timeout=10)

    assert ticket["source"] == "EMAIL" and ticket["status"] == "OPEN" and ticket["priority"] == "MEDIUM"
    assert ticket["requester"] == {"email": "noor@example.org", "name": "Noor Haddad"}
    assert {t["target"] for t in sla_view["targets"]} == {"first_response", "resolution"}
    assert note["title"] == f"New ticket {ref}: {subject}"
    assert mail["to"] == "noor@example.org" and mail["reply_to"] == f"support+{ref}@ticketstream.local"
    assert volume["total"] == 1

    events = await read_topic(
        settings.kafka_bootstrap,
        settings.topic(topics.TICKETS),
        until=lambda records: any(r.headers.get("ce_subject") == ref for r in records),
    )
    # The ticket's later events (e.g. due_date stamped from its SLA clocks) share the subject.
    [created] = [
        r for r in events if r.headers.get("ce_subject") == ref and r.headers["ce_type"] == "ticket.created"
    ]
    headers = created.headers
    assert headers["ce_type"] == "ticket.created"
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_source"] == "/ticketstream/tickets"
    assert headers["content-type"] == "application/json"
    assert headers["ce_time"].endswith("Z") and headers["ce_id"]
    assert headers["traceparent"].startswith("00-")
    assert json.loads(created.value)["ticket"]["ref"] == ref


async def test_one_trace_spans_the_http_request_and_the_events_it_caused(stack):
    settings = stack.settings
    trace_id = uuid.uuid4().hex
    traceparent = f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"
    subject = f"Traced request {uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.post(
            f"{settings.service_url('ingest')}/v1/inbound/email",
            content=make_email(subject=subject),
            headers={"Content-Type": "message/rfc822", "traceparent": traceparent},
        )
    assert response.status_code == 202
    inbound = await read_topic(
        settings.kafka_bootstrap,
        settings.topic(topics.INBOUND),
        until=lambda records: any(json.loads(r.value)["subject"] == subject for r in records),
    )
    [record] = [r for r in inbound if json.loads(r.value)["subject"] == subject]
    assert record.headers["traceparent"].split("-")[1] == trace_id
    ticket_events = await read_topic(
        settings.kafka_bootstrap,
        settings.topic(topics.TICKETS),
        until=lambda records: any(json.loads(r.value)["ticket"]["title"] == subject for r in records),
    )
    [created] = [
        r
        for r in ticket_events
        if json.loads(r.value)["ticket"]["title"] == subject and r.headers["ce_type"] == "ticket.created"
    ]
    assert created.headers["traceparent"].split("-")[1] == trace_id, "the consumer continued the trace"


async def test_bad_input_gets_clear_client_errors_never_500(stack):
    settings = stack.settings
    ingest = settings.service_url("ingest")
    async with httpx.AsyncClient(timeout=5) as client:
        not_email = await client.post(
            f"{ingest}/v1/inbound/email",
            content=b"<html>hello</html>",
            headers={"Content-Type": "message/rfc822"},
        )
        empty = await client.post(f"{ingest}/v1/inbound/email", headers={"Content-Type": "message/rfc822"})
        oversize = await client.post(
            f"{ingest}/v1/inbound/email",
            content=b"From: a@example.com\r\n\r\n" + b"x" * (25 * 1024 * 1024),
            headers={"Content-Type": "message/rfc822"},
        )
        unknown_route = await client.get(f"{settings.service_url('tickets')}/v2/whatever")
        bad_token = await client.get(
            f"{settings.service_url('tickets')}/v1/tickets", headers={"Authorization": "Bearer abc.def.ghi"}
        )
        customer = await client.get(
            f"{settings.service_url('analytics')}/v1/reports/volume",
            headers=bearer(settings, Role.CUSTOMER, email="x@example.com"),
        )
    assert not_email.status_code == 422 and "headers" in not_email.json()["error"]["message"]
    assert empty.status_code == 422 and empty.json()["error"]["message"] == "the message is empty"
    assert oversize.status_code == 413
    assert unknown_route.status_code == 404
    assert bad_token.status_code == 401
    assert customer.status_code == 404


async def test_agent_reply_is_emailed_in_thread_and_internal_notes_never_leave(stack):
    settings = stack.settings
    tickets, notify = settings.service_url("tickets"), settings.service_url("notify")
    agent = bearer(settings, sub="alice", teams=["support"], name="Alice Agent")
    customer_email = f"ravi.{uuid.uuid4().hex[:6]}@example.net"
    customer = bearer(settings, Role.CUSTOMER, sub="ravi", email=customer_email)
    secret = f"internal-only-{uuid.uuid4().hex}"
    message_id = f"<{uuid.uuid4().hex}@example.net>"
    async with httpx.AsyncClient(timeout=10) as client:
        sent = await client.post(
            f"{settings.service_url('ingest')}/v1/inbound/email",
            content=make_email(
                sender=f"Ravi <{customer_email}>", subject="Card declined", message_id=message_id
            ),
            headers={"Content-Type": "message/rfc822"},
        )
        assert sent.status_code == 202

        async def own_ticket():
            items = (await client.get(f"{tickets}/v1/portal/tickets", headers=customer)).json()["items"]
            return items[0]["ref"] if items else None

        ref = await eventually(own_ticket, timeout=30)
        note = await client.post(
            f"{tickets}/v1/tickets/{ref}/notes",
            json={"body": f"{secret} @bob check the gateway"},
            headers=agent,
        )
        reply = await client.post(
            f"{tickets}/v1/tickets/{ref}/replies", json={"body": "Please try again now."}, headers=agent
        )
        assert note.status_code == 201 and reply.status_code == 201

        async def reply_mail():
            items = (await client.get(f"{notify}/v1/dev/mail?limit=500", headers=agent)).json()["items"]
            mine = [m for m in items if m["to"] == customer_email]
            return mine if any(m["text"] == "Please try again now." for m in mine) else None

        async def mention():
            items = (
                await client.get(f"{notify}/v1/notifications", headers=bearer(settings, sub="bob"))
            ).json()
            return [n for n in items["items"] if n["ref"] == ref and n["kind"] == "ticket.mentioned"]

        mails = await eventually(reply_mail, timeout=30)
        [mentioned] = await eventually(mention, timeout=30)
        portal = (await client.get(f"{tickets}/v1/portal/tickets/{ref}", headers=customer)).text
        await asyncio.sleep(1)  # let any wrongly produced mail arrive before checking for leaks
        all_mail = (await client.get(f"{notify}/v1/dev/mail?limit=500", headers=agent)).text

    [acknowledgement] = [m for m in mails if m["subject"].startswith(f"[{ref}] We received")]
    link = next(word for word in acknowledgement["text"].split() if "/v1/portal/magic/" in word)
    async with httpx.AsyncClient(timeout=10) as client:
        followed = await client.get(link)
    assert followed.status_code == 200 and followed.json()["ref"] == ref, "notify's link works at tickets"
    assert secret not in followed.text
    [reply_email] = [m for m in mails if m["text"] == "Please try again now."]
    assert reply_email["subject"] == f"[{ref}] Card declined"
    assert reply_email["in_reply_to"] == message_id and reply_email["references"] == [message_id]
    assert reply_email["message_id"] == reply.json()["interaction"]["message_id"]
    assert reply_email["reply_to"] == f"support+{ref}@ticketstream.local"
    assert mentioned["title"] == f"alice mentioned you on {ref}"
    assert secret not in portal
    assert secret not in all_mail, "an internal note's text reached a customer email"
