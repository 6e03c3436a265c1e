"""A dedicated PostgreSQL cluster that a test may crash and restart.

Never the machine's shared server: ``initdb`` into a temporary directory owned by the
``postgres`` user, its own free port, its unix socket in that directory. ``crash()`` SIGKILLs
the postmaster and every backend (as a power cut would, minus the disk: the next start runs
crash recovery from the WAL); ``stop_fast()`` is an orderly shutdown that cuts clients off.
Everything is removed on ``close()``.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.platforms import free_port


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def _as_postgres(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    command = list(args) if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


class PgCluster:
    def __init__(self) -> None:
        self.bin = postgres_bin()
        if self.bin is None:
            raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
        self.root = Path(tempfile.mkdtemp(prefix="rapport-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self._server: subprocess.Popen | None = None
        self.socket_dir.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(self.socket_dir, "postgres", "postgres")
        done = _as_postgres(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "-E", "UTF8", "--no-instructions",
        )  # fmt: skip
        if done.returncode != 0:
            self.close()
            raise RuntimeError(f"initdb failed: {done.stderr}")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.socket_dir}'\n"
                "max_connections = 40\nshared_buffers = 16MB\n"
            )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self, timeout: float = 30) -> float:
        """Start (after a crash: recover) and wait until it accepts connections; seconds taken.

        The postmaster runs as our own child (through ``runuser``), not daemonised by
        ``pg_ctl``: once killed it is reaped, rather than left a zombie whose pid would keep
        ``postmaster.pid`` looking alive.
        """
        import psycopg

        began = time.monotonic()
        command = [str(self.bin / "postgres"), "-D", str(self.data)]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        log = open(self.log, "ab")
        self._server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        while True:
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return time.monotonic() - began
            except psycopg.OperationalError:
                if self._server.poll() is not None or time.monotonic() - began > timeout:
                    raise RuntimeError(f"PostgreSQL did not start:\n{self.log_tail()}") from None
                time.sleep(0.05)

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _processes(self) -> list[int]:
        """The postmaster and its children (backends, checkpointer, walwriter, ...)."""
        postmaster = self.postmaster_pid()
        if postmaster is None:
            return []
        found = [postmaster]
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                fields = Path(stat).read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == postmaster:
                found.append(int(Path(stat).parent.name))
        return found

    def crash(self, timeout: float = 15) -> None:
        """SIGKILL the postmaster and all its processes; returns once none is left."""
        pids = self._processes()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        while any(_alive(pid) for pid in pids):
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL processes survived SIGKILL: {pids}")
            time.sleep(0.02)
        self._reap()

    def _reap(self) -> None:
        if self._server is not None:
            self._server.wait(timeout=15)
            self._server = None

    def stop_fast(self, timeout: float = 30) -> None:
        """Orderly shutdown: sessions are cut off, the data is checkpointed."""
        _as_postgres(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", str(int(timeout)), "stop",
            timeout=timeout + 10,
        )  # fmt: skip
        self._reap()

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True, connect_timeout=5) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def close(self) -> None:
        """Stop whatever runs (immediately) and remove the cluster."""
        if self.postmaster_pid() is not None and self.data.exists():
            _as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop", timeout=30)
            for pid in self._processes():
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
        if self._server is not None:
            self._server.kill()
            self._server.wait(timeout=15)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "PgCluster":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
