"""A throw-away redis-server (Debian's package) on a free loopback port."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def redis_binary() -> str | None:
    """Debian's redis-server, installed with apt when missing and we may (root)."""
    found = shutil.which("redis-server")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "redis-server"],
            env=env,
            check=False,
            capture_output=True,
        )
        found = shutil.which("redis-server")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def redis_server(binary: str, folder: Path) -> Iterator[str]:
    """Start redis-server in `folder`; yield its URL; stop it."""
    folder.mkdir(parents=True, exist_ok=True)
    port, pidfile = free_port(), folder / "redis.pid"
    options = {"port": str(port), "bind": "127.0.0.1", "save": "", "appendonly": "no"}
    options |= {"daemonize": "yes", "dir": str(folder), "pidfile": str(pidfile)}
    options["logfile"] = str(folder / "redis.log")
    subprocess.run([binary, *(a for k, v in options.items() for a in (f"--{k}", v))], check=True)
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"redis-server did not answer on port {port}")
        time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        pid = int(pidfile.read_text()) if pidfile.exists() else None
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and pidfile.exists():
                time.sleep(0.05)
