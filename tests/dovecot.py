"""A real IMAP server for the service tests: Debian's dovecot as a child process (no fixtures here).

It runs from its own configuration in a temporary folder (no system-wide config is read):
plain-text logins on loopback only, users from passwd-files, Maildir under the folder, its log
in a file there, in the foreground as a child of the test process. `make test` installs the
`dovecot-imapd` package when dovecot is missing; without it these tests fail, saying so.

Messages are put in place and folders renumbered with the standard library's imaplib, not with
the aioimaplib the connector uses, so the two sides do not share a client's mistakes.
"""

from __future__ import annotations

import asyncio
import grp
import imaplib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ticketstream.devstack.processes import free_port

START_SECONDS = 15.0
SYSTEM_PATHS = "/usr/sbin:/sbin:/usr/local/sbin"
INSTALL_HINT = (
    "the IMAP service tests need Debian's dovecot: `make test` installs it (package dovecot-imapd) "
    "when apt-get is available and it runs as root; otherwise run `apt-get install dovecot-imapd`"
)


class DovecotUnavailableError(RuntimeError):
    pass


def dovecot_binary() -> str:
    found = shutil.which("dovecot", path=f"{os.environ.get('PATH', '')}:{SYSTEM_PATHS}")
    if found is None:
        raise DovecotUnavailableError(f"dovecot is not installed: {INSTALL_HINT}")
    return found


def dovecot_version(binary: str) -> tuple[int, int]:
    printed = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    match = re.match(r"(\d+)\.(\d+)", printed.strip())
    if match is None:
        raise DovecotUnavailableError(f"cannot read the dovecot version from {printed!r}")
    return int(match.group(1)), int(match.group(2))


@dataclass(frozen=True)
class Accounts:
    """Who the server and the mail run as. dovecot refuses to give mail access as root."""

    internal_user: str
    internal_group: str
    login_user: str
    mail_uid: int
    mail_gid: int


def accounts() -> Accounts:
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        return Accounts(me.pw_name, grp.getgrgid(me.pw_gid).gr_name, me.pw_name, me.pw_uid, me.pw_gid)
    # The Debian package creates `dovecot` and `dovenull`; mail is stored as `nobody`.
    nobody = pwd.getpwnam("nobody")
    return Accounts("dovecot", "dovecot", "dovenull", nobody.pw_uid, nobody.pw_gid)


def configuration(workdir: Path, *, port: int, version: tuple[int, int], who: Accounts) -> str:
    common = f"""
base_dir = {workdir}/run
state_dir = {workdir}/state
instance_name = ticketstream-test-{port}
protocols = imap
listen = 127.0.0.1
ssl = no
auth_mechanisms = plain login
log_path = {workdir}/dovecot.log
default_internal_user = {who.internal_user}
default_internal_group = {who.internal_group}
default_login_user = {who.login_user}
first_valid_uid = {min(who.mail_uid, 500) or 1}
mail_uid = {who.mail_uid}
mail_gid = {who.mail_gid}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""
    if version < (2, 4):
        return f"""
{common}
disable_plaintext_auth = no
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = {workdir}/users/%u
}}
userdb {{
  driver = static
  args = home={workdir}/mail/%u
}}
"""
    # Dovecot 2.4 (Debian 13) renamed these settings; written from its documentation.
    return f"""
dovecot_config_version = 2.4.0
dovecot_storage_version = 2.4.0
{common}
auth_allow_cleartext = yes
mail_driver = maildir
mail_path = ~/Maildir
mail_home = {workdir}/mail/%{{user}}
passdb passwd-file {{
  passwd_file_path = {workdir}/users/%{{user}}
}}
userdb static {{
}}
"""


@dataclass
class DovecotServer:
    workdir: Path
    port: int
    process: subprocess.Popen[bytes]

    @property
    def log(self) -> str:
        path = self.workdir / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else "(no log written)"

    def add_user(self, username: str, password: str) -> None:
        # One passwd-file per user, written once: dovecot notices a changed file only by its
        # modification time, which two users added within a second would share.
        entry = self.workdir / "users" / username
        entry.write_text(f"{username}:{{PLAIN}}{password}\n")
        entry.chmod(0o644)

    async def append(
        self, username: str, password: str, messages: list[bytes], folder: str = "INBOX"
    ) -> None:
        await asyncio.to_thread(self._append, username, password, messages, folder)

    async def recreate_folder(self, username: str, password: str, folder: str) -> None:
        """Delete the folder and make it anew: the server gives it a new UIDVALIDITY."""
        await asyncio.to_thread(self._recreate, username, password, folder)

    async def uidvalidity(self, username: str, password: str, folder: str = "INBOX") -> int:
        return await asyncio.to_thread(self._uidvalidity, username, password, folder)

    def _session(self, username: str, password: str) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        client.login(username, password)
        return client

    def _append(self, username: str, password: str, messages: list[bytes], folder: str) -> None:
        client = self._session(username, password)
        try:
            if folder != "INBOX":
                client.create(_quoted(folder))  # answers NO when it exists, which is fine
            for raw in messages:
                status, detail = client.append(_quoted(folder), None, None, raw)
                assert status == "OK", detail
        finally:
            client.logout()

    def _recreate(self, username: str, password: str, folder: str) -> None:
        client = self._session(username, password)
        try:
            status, detail = client.delete(_quoted(folder))
            assert status == "OK", detail
            status, detail = client.create(_quoted(folder))
            assert status == "OK", detail
        finally:
            client.logout()

    def _uidvalidity(self, username: str, password: str, folder: str) -> int:
        client = self._session(username, password)
        try:
            status, detail = client.status(_quoted(folder), "(UIDVALIDITY)")
            assert status == "OK", detail
            match = re.search(rb"UIDVALIDITY (\d+)", detail[0] or b"")
            assert match, detail
            return int(match.group(1))
        finally:
            client.logout()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_dovecot(*, capabilities: str | None = None) -> DovecotServer:
    """Start dovecot on a free loopback port; raises DovecotUnavailableError with its log.

    `capabilities` replaces the advertised IMAP capabilities (to play a server without IDLE).
    """
    binary = dovecot_binary()
    version = dovecot_version(binary)
    who = accounts()
    # Not under pytest's tmp_path: that is private to root, and the mail processes run as `nobody`.
    workdir = Path(tempfile.mkdtemp(prefix="ticketstream-dovecot-"))
    workdir.chmod(0o755)
    mail = workdir / "mail"
    mail.mkdir()
    if os.geteuid() == 0:
        os.chown(mail, who.mail_uid, who.mail_gid)
    (workdir / "users").mkdir(mode=0o755)
    port = free_port()
    config = workdir / "dovecot.conf"
    text = configuration(workdir, port=port, version=version, who=who)
    if capabilities is not None:
        text += f"imap_capability = {capabilities}\n"
    config.write_text(text)
    with (workdir / "stderr.log").open("wb") as stderr:
        process = subprocess.Popen(
            [binary, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=stderr
        )
    server = DovecotServer(workdir, port, process)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            errors = (workdir / "stderr.log").read_text(errors="replace")
            log = server.log
            server.stop()
            raise DovecotUnavailableError(f"dovecot {version} exited at start: {errors}\n{log}")
        if _greets(port):
            return server
        time.sleep(0.05)
    log = server.log
    server.stop()
    raise DovecotUnavailableError(f"dovecot did not answer on port {port} within {START_SECONDS} s:\n{log}")


def _greets(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            return connection.recv(64).startswith(b"* OK")
    except OSError:
        return False


def _quoted(folder: str) -> str:
    # imaplib sends mailbox names as given; one with a space must be quoted.
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
