"""The `ticketstream` command: run the stack, create topics, print tokens, seed, write AsyncAPI."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from ticketstream.auth import Role, issue_dev_token
from ticketstream.devstack.processes import SERVICE_NAMES, StackError
from ticketstream.settings import PlatformSettings

app = typer.Typer(help="Ticketstream: a Kafka-native help desk.", no_args_is_help=True)
topics_app = typer.Typer(help="Kafka topics.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")

SERVICE_ENTRY_POINTS = "ticketstream.services"
REPLAY_ENTRY_POINTS = "ticketstream.replay"


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@app.command()
def up(
    state_dir: Annotated[Path, typer.Option(help="Logs and embedded data")] = Path(".devstack"),
    seed: Annotated[bool, typer.Option(help="Create demo tickets on a fresh stack")] = True,
) -> None:
    """Start everything: embedded infrastructure (unless external URLs are set), topics, services."""
    from ticketstream.devstack.seed import seed_demo_data
    from ticketstream.devstack.stack import DevStack

    signal.signal(signal.SIGTERM, _raise_interrupt)
    stack = DevStack(state_dir=state_dir.resolve())
    try:
        for line in stack.start_infrastructure():
            typer.echo(f"started {line}")
        created = stack.create_topics()
        typer.echo(f"topics: {len(created)} created")
        started = time.monotonic()
        stack.start_services()
        stack.wait_ready()
        typer.echo(f"services ready in {time.monotonic() - started:.1f} s")
        settings = stack.settings
        if seed:
            typer.echo(f"seeded {seed_demo_data(settings)} demo requests")
        _print_welcome(settings, state_dir, stack.environ.get("TICKETSTREAM_SMTP_PORT", "2525"))
        while True:
            for name, process in stack.services.items():
                if not process.alive():
                    raise StackError(f"{name} stopped unexpectedly; see {process.log_path}")
            time.sleep(1)
    except KeyboardInterrupt:
        typer.echo("\nstopping...")
    except StackError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
    finally:
        stack.stop()
        typer.echo("stopped")


def _print_welcome(settings: PlatformSettings, state_dir: Path, smtp_port: str) -> None:
    token = issue_dev_token(settings, sub="alice", role=Role.AGENT, teams=["support"], name="Alice Agent")
    typer.echo("\nTicketstream is running:")
    for name in SERVICE_NAMES:
        typer.echo(
            f"  {name:<10} {settings.service_url(name)}   (API docs: {settings.service_url(name)}/docs)"
        )
    typer.echo(f"  smtp       {settings.http_host}:{smtp_port}   (mail to {settings.support_address})")
    typer.echo(f"\nDemo agent token (alice, team support):\n{token}\n")
    typer.echo("Try:")
    typer.echo(f'  curl -H "Authorization: Bearer $TOKEN" {settings.service_url("tickets")}/v1/tickets')
    typer.echo(f"Logs: {state_dir}/logs   Stop: Ctrl-C")


@topics_app.command("create")
def topics_create() -> None:
    """Create every topic (and its .dlq) with TICKETSTREAM_TOPIC_PARTITIONS partitions."""
    from ticketstream.devstack.topics import create_topics

    settings = PlatformSettings()
    created = asyncio.run(create_topics(settings))
    for name in created:
        typer.echo(f"created {name}")
    typer.echo(f"{len(created)} topics created")


@app.command()
def token(
    role: Annotated[Role, typer.Option(help="customer | agent | team_lead | manager | admin")],
    sub: Annotated[str, typer.Option(help="Subject: the user id")],
    team: Annotated[list[str] | None, typer.Option(help="Team (repeatable)")] = None,
    email: Annotated[str | None, typer.Option(help="Email (a customer's requester address)")] = None,
    name: Annotated[str | None, typer.Option(help="Display name")] = None,
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds")] = 12 * 3600,
) -> None:
    """Print a development token signed with TICKETSTREAM_JWT_SECRET."""
    settings = PlatformSettings()
    typer.echo(
        issue_dev_token(
            settings, sub=sub, role=role, teams=team or [], email=email, name=name, ttl_seconds=ttl
        )
    )


@app.command()
def seed() -> None:
    """Create demo tickets through the running services' APIs (skipped if tickets exist)."""
    from ticketstream.devstack.seed import seed_demo_data

    typer.echo(f"seeded {seed_demo_data(PlatformSettings())} demo requests")


def installed_service_brokers() -> list[Any]:
    """The FastStream brokers of every installed service (apps are built, not started)."""
    entries = sorted(entry_points(group=SERVICE_ENTRY_POINTS), key=lambda entry: entry.name)
    return [entry.load()().state.platform.broker for entry in entries]


@app.command()
def asyncapi(
    output: Annotated[Path, typer.Option(help="Where to write the document")] = Path("asyncapi.json"),
) -> None:
    """Write the AsyncAPI document generated from the services' FastStream apps."""
    from ticketstream.asyncapi import asyncapi_document

    output.write_text(json.dumps(asyncapi_document(installed_service_brokers()), indent=2))
    typer.echo(f"wrote {output}")


@app.command()
def replay(
    target: Annotated[str, typer.Argument(help="What to rebuild from the event log, e.g. analytics")],
) -> None:
    """Rebuild a service's projections from offset 0 and switch over to them atomically."""
    replays = {entry.name: entry for entry in entry_points(group=REPLAY_ENTRY_POINTS)}
    if target not in replays:
        known = ", ".join(sorted(replays)) or "none installed"
        typer.echo(f"error: nothing to replay named {target!r} (known: {known})", err=True)
        raise typer.Exit(2)
    typer.echo(replays[target].load()())


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
