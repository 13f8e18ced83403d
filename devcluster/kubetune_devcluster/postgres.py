"""A private PostgreSQL server: ``initdb`` and ``pg_ctl`` in a temporary directory, on a free loopback port."""

from __future__ import annotations

import glob
import logging
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


class PostgresUnavailable(RuntimeError):
    """PostgreSQL binaries are missing or the server would not start."""


def find_pg_bin() -> Path:
    """Locate the directory with ``initdb`` and ``pg_ctl`` (Debian keeps them out of PATH)."""
    env = os.environ.get("KUBETUNE_PG_BIN")
    candidates = [env] if env else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    which = shutil.which("initdb")
    if which:
        candidates.append(str(Path(which).parent))
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    raise PostgresUnavailable("initdb/pg_ctl not found: install postgresql (Debian: apt-get install postgresql)")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """A running server. ``url`` is a SQLAlchemy/psycopg URL for the superuser ``kubetune``."""

    data_dir: Path
    port: int
    bin_dir: Path
    run_as: str | None = None
    options: str = ""  # the server options it was started with, to start it again the same way
    logfile: Path | None = None
    _owned_root: Path | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"postgresql://kubetune@127.0.0.1:{self.port}/postgres"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://kubetune@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create a database and return its URL."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def password_role(self, name: str, password: str, database: str = "postgres") -> str:
        """A login role that must give ``password`` over TCP (the server trusts everyone else); returns its URL.

        For tests of what happens to a password: with ``trust``, a wrong password would be accepted.
        """
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(name),
                                                                            sql.Literal(password)))
            conn.execute(sql.SQL("GRANT pg_read_all_data TO {}").format(sql.Identifier(name)))
            hba = self.data_dir / "pg_hba.conf"
            # The first matching line wins: this one goes before the trust lines.
            hba.write_text(f'host all "{name}" 127.0.0.1/32 scram-sha-256\n' + hba.read_text())
            conn.execute("SELECT pg_reload_conf()")
        return f"postgresql://{name}:{password}@127.0.0.1:{self.port}/{database}"

    def shutdown(self, mode: str = "fast") -> None:
        """``pg_ctl stop``: the server goes away (an outage), its data stays; ``start`` brings it back."""
        done = _run(self.run_as, [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop"],
                    check=False)
        if done.returncode != 0:
            raise PostgresUnavailable(f"pg_ctl stop failed: {done.stderr.strip()}")

    def start(self) -> None:
        """``pg_ctl start`` on the same data directory, port and options; waits until it accepts connections."""
        argv = [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-o", self.options, "-w", "start"]
        if self.logfile is not None:
            argv[3:3] = ["-l", str(self.logfile)]
        started = _run(self.run_as, argv, check=False)
        if started.returncode != 0:
            raise PostgresUnavailable(f"pg_ctl start failed: {started.stderr.strip()}")
        _wait_ready(self)

    def stop(self) -> None:
        _run(
            self.run_as,
            [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "stop"],
            check=False,
        )
        if self._owned_root:
            shutil.rmtree(self._owned_root, ignore_errors=True)


def _run(user: str | None, argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    # Postgres refuses to run as root; drop to an unprivileged user when we are root.
    if user:
        pw = pwd.getpwnam(user)

        def demote() -> None:
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)

        return subprocess.run(argv, check=check, capture_output=True, text=True, preexec_fn=demote)
    return subprocess.run(argv, check=check, capture_output=True, text=True)


def _unprivileged_user() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise PostgresUnavailable("running as root and no 'postgres' user exists to run the server")


def start_postgres(root: Path | None = None, port: int | None = None) -> PostgresServer:
    """Initialise and start a server; it trusts local connections from the user ``kubetune``."""
    bin_dir = find_pg_bin()
    owned = None
    if root is None:
        root = Path(tempfile.mkdtemp(prefix="kubetune-pg-"))
        owned = root
    root.mkdir(parents=True, exist_ok=True)
    user = _unprivileged_user()
    data_dir = root / "data"
    sock_dir = root / "sock"
    sock_dir.mkdir(exist_ok=True)
    if user:
        pw = pwd.getpwnam(user)
        for path in (root, sock_dir):
            os.chown(path, pw.pw_uid, pw.pw_gid)
    port = port or free_port()
    init = _run(
        user,
        [str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "kubetune", "--auth=trust", "-E", "UTF8", "--no-sync"],
        check=False,
    )
    if init.returncode != 0:
        raise PostgresUnavailable(f"initdb failed: {init.stderr.strip()}")
    logfile = root / "postgres.log"
    opts = (
        f"-p {port} -k {sock_dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c max_connections=200"
    )
    started = _run(
        user, [str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-l", str(logfile), "-o", opts, "-w", "start"], check=False
    )
    if started.returncode != 0:
        tail = logfile.read_text()[-2000:] if logfile.exists() else ""
        raise PostgresUnavailable(f"pg_ctl start failed: {started.stderr.strip()}\n{tail}")
    server = PostgresServer(data_dir=data_dir, port=port, bin_dir=bin_dir, run_as=user, options=opts, logfile=logfile,
                            _owned_root=owned)
    _wait_ready(server)
    log.info("postgres listening on 127.0.0.1:%s", port)
    return server


def _wait_ready(server: PostgresServer, timeout: float = 30.0) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(server.url, connect_timeout=2) as conn:
                conn.execute("select 1")
            return
        except psycopg.OperationalError as e:
            if time.monotonic() > deadline:
                raise PostgresUnavailable(f"postgres did not accept connections: {e}") from e
            time.sleep(0.1)
