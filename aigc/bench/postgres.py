"""A throwaway PostgreSQL server for the tests and the bench: its own cluster in a temp dir, on a free
loopback port, stopped and deleted at the end. Run as the ``postgres`` user when the tests run
as root (PostgreSQL refuses to run as root)."""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from aigc import store

BIN = Path(os.environ.get("AIGC_PG_BIN", "/usr/lib/postgresql/15/bin"))


class Unavailable(RuntimeError):
    """PostgreSQL cannot run here; the message says why."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self) -> None:
        if not (BIN / "initdb").exists():
            raise Unavailable(f"no {BIN / 'initdb'}: apt-get install postgresql (version 15)")
        self._as_postgres: list[str] = []
        self.root = Path(tempfile.mkdtemp(prefix="aigc-pg-"))
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                raise Unavailable("running as root and there is no postgres user") from None
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as_postgres = ["runuser", "-u", "postgres", "--"]
        self.data = self.root / "data"
        self.port = 0
        self._names = itertools.count()
        self._run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8")

    def _run(self, tool: str, *args: object) -> None:
        cmd = [*self._as_postgres, str(BIN / tool), *map(str, args)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise Unavailable(f"{tool} failed: {done.stderr.strip()}\n{tail}")

    def start(self) -> None:
        """Start the server, on the same port as before if it ran already."""
        for attempt in range(3):
            port = self.port or _free_port()
            options = (
                f"-p {port} -k {self.root} -c listen_addresses=127.0.0.1"
                " -c max_connections=300 -c fsync=off"  # fsync: a test server, not a school's
            )
            try:
                log = self.root / "server.log"
                self._run(
                    "pg_ctl", "-D", self.data, "-l", log, "-w", "-t", "60", "-o", options, "start"
                )
            except Unavailable:
                if self.port or attempt == 2:  # a restart keeps its port; a new one may retry
                    raise
                continue
            self.port = port
            return

    def stop(self) -> None:
        self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """The URL of a new, empty database."""
        import psycopg

        name = f"t{next(self._names)}"
        dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as con:
            con.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def remove(self) -> None:
        with contextlib.suppress(Unavailable):  # not running
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def running() -> tuple[Cluster | None, str]:
    """A started cluster of the caller's own (remove it when done), or None and why not."""
    try:
        cluster = Cluster()
    except Unavailable as e:
        return None, str(e).splitlines()[0]
    try:
        cluster.start()
    except Unavailable as e:
        cluster.remove()
        return None, str(e).splitlines()[0]
    return cluster, ""


@contextlib.contextmanager
def stores(with_postgres: bool = True) -> Iterator[tuple[list[tuple[str, str]], str]]:
    """([(store URL, what it is)], why there is no PostgreSQL): a fresh SQLite file, then a
    fresh PostgreSQL database of a cluster of the caller's own where one can run. At the end
    $AIGC_DB_URL is put back, the engines closed and the cluster removed."""
    saved = os.environ.get("AIGC_DB_URL")
    cluster, why = running() if with_postgres else (None, "not asked for")
    with tempfile.TemporaryDirectory() as tmp:
        urls = [(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", "SQLite")]
        if cluster is not None:
            urls.append((cluster.new_database(), "PostgreSQL 15"))
        try:
            yield urls, why
        finally:
            store.dispose()
            if saved is None:
                os.environ.pop("AIGC_DB_URL", None)
            else:
                os.environ["AIGC_DB_URL"] = saved
            if cluster is not None:
                cluster.remove()
