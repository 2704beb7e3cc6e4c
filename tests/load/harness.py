"""Load harness: a gunicorn server on a loopback port, client threads running a mix of
small write actions for a bounded time, and a ledger of every acknowledged write.

The mix (:mod:`tests.load.mix`) and the checks (:mod:`tests.load.checks`) are lists of
small functions, so a feature adds its writes and its invariants with a few lines.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
REQUEST_TIMEOUT = 15  # seconds, per request
MAX_OPS_PER_THREAD = 2_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(database_url: str, instance: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIMS_")}
    env.update({
        "LIMS_DATABASE_URL": database_url,
        "LIMS_SECRET_KEY": "load-test-secret",
        "LIMS_INSTANCE_PATH": str(instance),
        "LIMS_SCHEDULER": "false",
        "LIMS_SESSION_COOKIE_SECURE": "false",
    })
    return env


class Server:
    """``gunicorn wsgi:app`` as a subprocess on 127.0.0.1 (several sync workers, or one
    worker with threads); its output goes to a log file shown when a check fails."""

    def __init__(self, env: dict[str, str], log: Path, *, workers: int, threads: int = 1):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        args = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}",
                "--workers", str(workers), "--timeout", "30", "--graceful-timeout", "5",
                "--log-level", "warning"]
        if threads > 1:
            args += ["--worker-class", "gthread", "--threads", str(threads)]
        self._log_handle = log.open("wb")
        self.process = subprocess.Popen(args + ["wsgi:app"], cwd=ROOT, env=env,
                                        stdout=self._log_handle, stderr=subprocess.STDOUT)
        self._wait_until_up(workers)

    def _wait_until_up(self, workers: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.process.returncode}):\n{self.tail()}")
            try:
                if requests.get(f"{self.url}/health", timeout=2).status_code == 200 \
                        and len(self.workers()) >= workers:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not come up in {timeout} s:\n{self.tail()}")

    def workers(self) -> list[int]:
        """The worker processes' ids (children of the gunicorn master)."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                children.append(int(stat.parent.name))
        return sorted(children)

    def kill_a_worker(self) -> int:
        """SIGKILL one worker, as the OOM killer or a crash would; gunicorn starts another."""
        victim = random.choice(self.workers())
        os.kill(victim, signal.SIGKILL)
        return victim

    def tail(self, lines: int = 40) -> str:
        if not self._log_handle.closed:
            self._log_handle.flush()
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._log_handle.close()


class Api:
    """One client thread's HTTP session, authenticated with a bearer token."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def post(self, path: str, body: Any) -> requests.Response:
        return self.session.post(f"{self.base_url}/api/v1{path}", json=body,
                                 timeout=REQUEST_TIMEOUT)

    def get(self, path: str) -> requests.Response:
        return self.session.get(f"{self.base_url}/api/v1{path}", timeout=REQUEST_TIMEOUT)

    def close(self) -> None:
        self.session.close()


def issue_token(base_url: str, username: str, password: str) -> str:
    response = requests.post(f"{base_url}/api/v1/auth/tokens", timeout=REQUEST_TIMEOUT,
                             json={"username": username, "password": password})
    assert response.status_code == 201, response.text
    return response.json()["token"]


@dataclass
class Ledger:
    """Every write the server acknowledged (201 and an id), and what else was answered."""

    acknowledged: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def ack(self, kind: str, record: dict[str, Any]) -> None:
        with self._lock:
            self.acknowledged[kind].append(record)

    def answered(self, action: str, response: requests.Response) -> None:
        with self._lock:
            self.statuses[(action, response.status_code)] += 1
            if response.status_code >= 500:
                self.server_errors.append(f"{action}: {response.status_code} "
                                          f"{response.text[:300]}")

    def failed(self, action: str, error: Exception) -> None:
        with self._lock:
            self.errors[(action, type(error).__name__)] += 1

    def summary(self) -> str:
        acks = {kind: len(rows) for kind, rows in self.acknowledged.items()}
        return f"acknowledged {acks}; answers {dict(self.statuses)}; errors {dict(self.errors)}"


@dataclass
class Context:
    """What one action gets: its thread's API session, a seeded random source, the
    records prepared before the load (``lab``), and the ledger."""

    api: Api
    rng: random.Random
    lab: dict[str, Any]
    ledger: Ledger


Action = Callable[[Context], None]


def run_load(base_url: str, tokens: list[str], mix: list[tuple[Action, int]], lab: dict,
             *, threads: int, seconds: float, during: Callable[[], None] | None = None,
             during_at: float = 0.4) -> Ledger:
    """``threads`` clients pick weighted actions from ``mix`` until ``seconds`` have passed
    (or each has done ``MAX_OPS_PER_THREAD``); ``during`` runs once at ``during_at`` of the
    time (e.g. killing a worker)."""
    ledger = Ledger()
    actions = [action for action, weight in mix for _ in range(weight)]
    deadline = time.monotonic() + seconds
    start = threading.Barrier(threads + 1, timeout=60)

    def client(n: int) -> None:
        ctx = Context(Api(base_url, tokens[n % len(tokens)]), random.Random(n), lab, ledger)
        start.wait()
        try:
            for _ in range(MAX_OPS_PER_THREAD):
                if time.monotonic() >= deadline:
                    break
                action = ctx.rng.choice(actions)
                try:
                    action(ctx)
                except requests.RequestException as error:
                    ledger.failed(action.__name__, error)
                    time.sleep(0.05)
        finally:
            ctx.api.close()

    pool = [threading.Thread(target=client, args=(n,), name=f"load-{n}") for n in range(threads)]
    for thread in pool:
        thread.start()
    start.wait()
    if during is not None:
        time.sleep(seconds * during_at)
        during()
    for thread in pool:
        thread.join(timeout=seconds + 4 * REQUEST_TIMEOUT)
    assert not any(t.is_alive() for t in pool), "a client thread did not finish"
    return ledger
