"""A real PostgreSQL server for tests: Debian's package, a temporary cluster on a free local port.

:func:`start` installs Debian's ``postgresql`` with apt-get when its binaries are missing (as
root), runs ``initdb`` in a temporary directory and ``pg_ctl start`` on a free port of 127.0.0.1,
as user ``postgres`` when run as root (the server refuses to run as root). The cluster has a
superuser ``postgres`` (trusted on the local socket) and a user ``custseg`` whose password is
needed over TCP, so that tests see passwords travel the usual ways. :meth:`PgServer.stop` stops
it (``pg_ctl stop``) and removes the directory; a watchdog process does the same if the tests die
without doing it (a timeout's SIGKILL): no server outlives them.
"""
from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

#: The password of the test user ``custseg`` (a test secret: tests check it never appears in outputs).
PASSWORD = "s3cret-Pw_for-tests"
USER = "custseg"
DATABASE = "shop"


#: Stops the cluster and removes its directory when the test process dies without doing so itself
#: (killed by a timeout or SIGKILL): no server outlives the tests. Exits once the directory is gone.
WATCHDOG = """
import os, shutil, subprocess, sys, time
parent, pg_ctl, data, root, user = int(sys.argv[1]), *sys.argv[2:]
def alive():
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        pass
    return True
while alive() and os.path.exists(data):
    time.sleep(1)
if os.path.exists(os.path.join(data, "postmaster.pid")):
    subprocess.run([pg_ctl, "stop", "-w", "-m", "immediate", "-D", data], capture_output=True, check=False,
                   user=user or None, cwd=root)
shutil.rmtree(root, ignore_errors=True)
"""


class Unavailable(Exception):
    """PostgreSQL cannot be installed or started here; the message says why."""


def _bin_dir() -> Path | None:
    """The newest installed PostgreSQL's binary directory, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def installed_bin_dir() -> Path:
    """PostgreSQL's binary directory, installing Debian's ``postgresql`` with apt-get when missing."""
    found = _bin_dir()
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Unavailable("PostgreSQL is not installed and cannot be (needs root and apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "postgresql"]):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, check=False)
        if proc.returncode != 0:
            raise Unavailable(f"{' '.join(cmd)} failed: {proc.stderr.strip()[-300:]}")
    found = _bin_dir()
    if not found:
        raise Unavailable("apt-get installed postgresql but no initdb was found")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PgServer:
    """A running test cluster."""

    bin_dir: Path
    root: Path
    port: int
    run_as: str | None
    url: str = field(init=False)  # database ``shop`` as user ``custseg``, without the password
    url_with_password: str = field(init=False)
    admin_url: str = field(init=False)  # the superuser over the local socket (trusted), to set up tables

    def __post_init__(self) -> None:
        self.url = f"postgresql://{USER}@127.0.0.1:{self.port}/{DATABASE}"
        self.url_with_password = f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{DATABASE}"
        self.admin_url = f"postgresql://postgres@/{DATABASE}?host={self.root}&port={self.port}"

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120,
                              user=self.run_as, cwd=self.root, check=False)

    def start(self) -> None:
        data, log = self.root / "data", self.root / "server.log"
        conf = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c shared_buffers=32MB -c max_connections=30 -c full_page_writes=off")
        proc = self._run(self.bin_dir / "pg_ctl", "start", "-w", "-t", "60", "-D", data, "-l", log, "-o", conf)
        if proc.returncode != 0:
            tail = log.read_text()[-500:] if log.exists() else proc.stderr
            raise Unavailable(f"pg_ctl start failed: {tail.strip()}")

    def stop(self, mode: str = "fast") -> None:
        if (self.root / "data" / "postmaster.pid").exists():
            self._run(self.bin_dir / "pg_ctl", "stop", "-w", "-m", mode, "-D", self.root / "data")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def start() -> PgServer:
    """Install if needed, initialise and start a cluster; raises :class:`Unavailable`."""
    bin_dir = installed_bin_dir()
    run_as = None
    root = Path(tempfile.mkdtemp(prefix="custseg-pg-"))
    if os.geteuid() == 0:  # the server refuses root: run it as the package's user
        run_as = "postgres"
        try:
            shutil.chown(root, user=run_as, group=run_as)
        except (LookupError, OSError) as exc:
            shutil.rmtree(root, ignore_errors=True)
            raise Unavailable(f"cannot hand the cluster directory to user postgres: {exc}") from None
    server = PgServer(bin_dir, root, free_port(), run_as)
    pwfile = root / "pw"
    pwfile.write_text("unused-superuser-password\n")
    if run_as:
        shutil.chown(pwfile, user=run_as, group=run_as)
    proc = server._run(bin_dir / "initdb", "-D", root / "data", "-U", "postgres", "--auth-local=trust",
                       "--auth-host=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C.UTF-8",
                       "--no-sync")
    if proc.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise Unavailable(f"initdb failed: {proc.stderr.strip()[-300:]}")
    server.start()
    atexit.register(server.remove)  # also when the session is interrupted
    subprocess.Popen([sys.executable, "-c", WATCHDOG, str(os.getpid()), str(bin_dir / "pg_ctl"), str(root / "data"),
                      str(root), run_as or ""], start_new_session=True, stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import psycopg

    with psycopg.connect(server.admin_url.replace(f"/{DATABASE}?", "/postgres?"), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'")
        conn.execute(f"CREATE DATABASE {DATABASE} OWNER {USER}")
    return server


def load_csv(url: str, path: Path, table: str, schema: str = "public", types: dict[str, str] | None = None) -> None:
    """Create ``schema.table`` with the CSV's header as columns (text, or ``types``) and COPY the file in."""
    import psycopg
    from psycopg import sql

    with path.open("rb") as fh:
        header = fh.readline().decode("utf-8-sig").strip()
    columns = next(iter(__import__("csv").reader([header])))
    types = types or {}
    with psycopg.connect(url) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}.{}").format(sql.Identifier(schema), sql.Identifier(table)))
        conn.execute(sql.SQL("CREATE TABLE {}.{} ({})").format(
            sql.Identifier(schema), sql.Identifier(table),
            sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(types.get(c, "text")))
                               for c in columns)))
        copy = sql.SQL("COPY {}.{} FROM STDIN (FORMAT csv, HEADER true)").format(
            sql.Identifier(schema), sql.Identifier(table))
        with conn.cursor().copy(copy) as cp, path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                cp.write(chunk)


def load_export(url: str, directory: Path, schema: str = "public", rename: dict[str, str] | None = None) -> None:
    """Load every ``olist_*.csv`` / ``product_category_name_translation.csv`` of ``directory`` as text tables."""
    for path in sorted(directory.glob("*.csv")):
        if path.name == "truth.csv":
            continue
        load_csv(url, path, (rename or {}).get(path.stem, path.stem), schema)
