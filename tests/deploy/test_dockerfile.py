"""The one Dockerfile builds every service the same way, and its healthcheck probe works.

The Dockerfile is read as text (no Docker engine here); the probe script is run against a
throwaway HTTP server on the loopback interface.
"""

from __future__ import annotations

import contextlib
import fnmatch
import http.server
import importlib.util
import json
import re
import threading
from collections.abc import Iterator
from types import ModuleType

import pytest

from ticketstream.settings import SERVICE_NAMES

from .support import DOCKERFILE, DOCKERIGNORE, HEALTHCHECK_SCRIPT, default_port, port_setting

Instruction = tuple[str, str]  # (KEYWORD, arguments)


def instructions() -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined and comments dropped."""
    lines = [line for line in DOCKERFILE.read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    parsed = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, arguments = line.strip().partition(" ")
            parsed.append((keyword.upper(), arguments.strip()))
    return parsed


def stages() -> dict[str, list[Instruction]]:
    """Instructions by stage name ("" for anything before the first FROM, "final" for the last)."""
    result: dict[str, list[Instruction]] = {"": []}
    current = ""
    for keyword, arguments in instructions():
        if keyword == "FROM":
            parts = arguments.split()
            current = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else "final"
            result[current] = []
        result[current].append((keyword, arguments))
    return result


def arguments_of(stage: list[Instruction], keyword: str) -> list[str]:
    return [arguments for kw, arguments in stage if kw == keyword]


def env_of(stage: list[Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for arguments in arguments_of(stage, "ENV"):
        env.update(dict(pair.split("=", 1) for pair in arguments.split()))
    return env


def test_build_stage_installs_shared_and_one_service_with_constraints() -> None:
    build = stages()["build"]
    assert build[0] == ("FROM", "${PYTHON_IMAGE} AS build")
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in {f"{kw} {a}" for kw, a in stages()[""]}
    installs = [a for a in arguments_of(build, "RUN") if "pip install" in a]
    assert len(installs) == 1
    assert installs[0].endswith("pip install -c constraints.txt ./shared ./services/${SERVICE}")


def test_runtime_runs_as_a_numeric_non_root_user_with_a_healthcheck() -> None:
    runtime = stages()["runtime"]
    # Numeric, so Kubernetes can verify runAsNonRoot; the chart sets the same uid.
    assert arguments_of(runtime, "USER") == ["10001:10001"]
    [healthcheck] = arguments_of(runtime, "HEALTHCHECK")
    command = json.loads(healthcheck.split(" CMD ", 1)[1])
    assert command == ["python", "/opt/ticketstream/healthcheck.py"]
    assert ("COPY", "deploy/docker/healthcheck.py /opt/ticketstream/healthcheck.py") in runtime
    assert env_of(runtime)["TICKETSTREAM_HTTP_HOST"] == "0.0.0.0"


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_each_service_stage_exposes_its_port_and_runs_its_package(service: str) -> None:
    stage = stages()[f"service-{service}"]
    port = default_port(service)
    assert env_of(stage)[port_setting(service)] == str(port)
    exposed = {int(p) for arguments in arguments_of(stage, "EXPOSE") for p in arguments.split()}
    assert exposed == ({port, 2525} if service == "ingest" else {port})
    assert [json.loads(cmd) for cmd in arguments_of(stage, "CMD")] == [
        ["python", "-m", f"ticketstream_{service}"]
    ]


def test_image_env_sets_only_real_settings(service_settings: dict[str, set[str]]) -> None:
    for name, stage in stages().items():
        service = name.removeprefix("service-")
        known = service_settings.get(service, set.intersection(*service_settings.values()))
        names = {n for n in env_of(stage) if n.startswith("TICKETSTREAM_")}
        assert names <= known, f"stage {name}: {sorted(names - known)}"


def test_final_stage_is_the_chosen_service() -> None:
    assert stages()["final"][0] == ("FROM", "service-${SERVICE}")


def test_dockerignore_keeps_what_the_build_copies() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    # Approximates Docker's matching (fnmatch plus directory prefixes); good enough for this file.
    needed = [
        "constraints.txt",
        "shared/pyproject.toml",
        "shared/src/ticketstream/settings.py",
        "services/tickets/pyproject.toml",
        "deploy/docker/healthcheck.py",
    ]
    for path in needed:
        excluded = [
            pattern
            for pattern in patterns
            if fnmatch.fnmatch(path, pattern) or path.startswith(pattern.rstrip("/") + "/")
        ]
        assert not excluded, f"{path} is excluded by {excluded}"


# --- the healthcheck probe -------------------------------------------------------------------


@pytest.fixture(scope="module")
def probe() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ticketstream_healthcheck", HEALTHCHECK_SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def serve(status: int) -> Iterator[int]:
    """Serve GET /healthz with the given status on a free loopback port; yields the port."""

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # keep the test output quiet
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("status", "exit_code"), [(200, 0), (503, 1)])
def test_probe_exit_code_follows_healthz(
    probe: ModuleType, monkeypatch: pytest.MonkeyPatch, status: int, exit_code: int
) -> None:
    with serve(status) as port:
        monkeypatch.setenv("SERVICE", "sla")
        monkeypatch.setenv("TICKETSTREAM_SLA_PORT", str(port))
        assert probe.main() == exit_code


def test_probe_fails_when_nothing_listens(probe: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICE", "notify")
    monkeypatch.setenv("TICKETSTREAM_NOTIFY_PORT", "1")  # nothing listens on port 1
    assert probe.main() == 1
