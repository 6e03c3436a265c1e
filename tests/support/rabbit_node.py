"""A dedicated RabbitMQ node that a test may kill: its own name, ports, data and logs.

The machine's shared RabbitMQ is never touched. The node runs as the ``rabbitmq`` user (with the
machine's Erlang cookie, so ``rabbitmqctl -n`` reaches it) from a temporary directory that holds
its Mnesia data, logs, pid file, config and any ``erl_crash.dump``; ``kill`` sends SIGKILL to its
own beam process only, found by its pid file; ``start`` again reuses the same data directory, so
durable queues and persistent messages survive as they would on a real host.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import amqp

from tests.support.platforms import free_port

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
USER = "rabbitmq"


class RabbitNodeError(RuntimeError):
    pass


def available() -> str | None:
    """Why a dedicated node cannot be started here, or None."""
    if not Path(SERVER).exists() or not shutil.which("rabbitmqctl"):
        return "rabbitmq-server is not installed"
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return f"no {USER!r} user"
    if os.geteuid() != 0 and pwd.getpwuid(os.geteuid()).pw_name != USER:
        return f"starting a node needs root or the {USER!r} user"
    return None


class RabbitNode:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.name = f"rapport-chaos-{uuid.uuid4().hex[:8]}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.pid_file = base / "node.pid"
        self.pid: int | None = None
        self.kills = 0

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def _prepare(self) -> None:
        for sub in ("mnesia", "log"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        (self.base / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.port}\n"
            "loopback_users = none\n"
            "log.console = false\n"
        )
        (self.base / "enabled_plugins").write_text("[].\n")
        (self.base / "rabbitmq-env.conf").write_text(  # distribution on loopback only, too
            "ERL_EPMD_ADDRESS=127.0.0.1\n"
            'SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"\n'
        )
        entry = pwd.getpwnam(USER)
        for path in [self.base, *self.base.rglob("*")]:
            os.chown(path, entry.pw_uid, entry.pw_gid)
        os.chmod(self.base, 0o755)

    def _environment(self) -> dict[str, str]:
        home = pwd.getpwnam(USER).pw_dir  # holds the machine's Erlang cookie
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": home,
            "LANG": "C.UTF-8",
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_PID_FILE": str(self.pid_file),
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": str(self.base / "rabbitmq-env.conf"),
            "ERL_CRASH_DUMP": str(self.base / "erl_crash.dump"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def start(self, timeout: float = 60.0) -> float:
        """Start (or restart on the same data) and wait until it accepts AMQP; returns seconds."""
        began = time.monotonic()
        self.pid_file.unlink(missing_ok=True)
        command = [SERVER, "-detached"]
        if os.geteuid() == 0:
            command = ["runuser", "-u", USER, "--", *command]
        subprocess.run(command, cwd=self.base, env=self._environment(), check=True, timeout=30,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = began + timeout
        while time.monotonic() < deadline:
            if self.pid is None and self.pid_file.exists():
                text = self.pid_file.read_text().strip()
                self.pid = int(text) if text.isdigit() else None
            if self._accepts_amqp():
                if self.pid is None:
                    raise RabbitNodeError(f"{self.name} runs but wrote no pid file")
                return time.monotonic() - began
            time.sleep(0.2)
        raise RabbitNodeError(f"{self.name} did not accept AMQP within {timeout:.0f}s; see {self.base / 'log'}")

    def _accepts_amqp(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                pass
            connection = amqp.Connection(f"127.0.0.1:{self.port}", connect_timeout=2, read_timeout=2)
            connection.connect()
            connection.close()
            return True
        except Exception:
            return False

    def kill(self) -> None:
        """SIGKILL this node's own beam process (no clean shutdown, nothing flushed)."""
        if self.pid is None:
            raise RabbitNodeError("the node is not running")
        pid, self.pid = self.pid, None
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
        self.kills += 1

    def stop(self) -> None:
        """Stop it for good. Its data is deleted next, so SIGKILL is as good as a clean
        shutdown and takes no seconds."""
        pid = self.pid
        if pid is None and self.pid_file.exists():
            text = self.pid_file.read_text().strip()
            pid = int(text) if text.isdigit() else None
        self.pid = None
        if pid is None or not _alive(pid):
            return
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)

    def ctl(self, *args: str) -> str:
        result = subprocess.run(["rabbitmqctl", "-n", self.name, *args], capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise RabbitNodeError(f"rabbitmqctl {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def queue_depths(self) -> dict[str, int]:
        """Messages in each queue."""
        return self._per_queue("messages")

    def consumers(self, queue: str) -> int:
        """Consumers attached to ``queue`` now, asked over AMQP (quick even while the node is
        busy recovering, unlike a rabbitmqctl round trip); 0 if it cannot answer."""
        try:
            connection = amqp.Connection(f"127.0.0.1:{self.port}", connect_timeout=2, read_timeout=2)
            connection.connect()
        except Exception:
            return 0
        try:
            return connection.channel().queue_declare(queue, passive=True).consumer_count
        except Exception:
            return 0
        finally:
            connection.collect()

    def _per_queue(self, column: str) -> dict[str, int]:
        out = self.ctl("list_queues", "-q", "--no-table-headers", "name", column)
        found = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit():
                found[parts[0]] = int(parts[1])
        return found


def _alive(pid: int) -> bool:
    """Running (a zombie left for init to reap counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


@contextmanager
def rabbit_node() -> Iterator[RabbitNode]:
    """A running dedicated node; stopped and its directory removed afterwards, even on failure."""
    base = Path(tempfile.mkdtemp(prefix="rapport-chaos-rabbit-"))
    node = RabbitNode(base)
    try:
        node._prepare()
        node.start()
        yield node
    finally:
        try:
            node.stop()
        finally:
            shutil.rmtree(base, ignore_errors=True)
