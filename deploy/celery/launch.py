"""A real distributed Airflow for Watchkeeper on one machine: PostgreSQL, Redis, CeleryExecutor, every component apart.

``python deploy/celery/launch.py up`` (what ``make airflow-celery`` runs) starts, as separate processes:
the API server, the scheduler, the DAG processor, the triggerer and two Celery workers (``worker1@host``,
``worker2@host``, both on the ``default`` queue). Airflow's metadata DB and Celery's result backend live in
the PostgreSQL database ``watchkeeper_airflow``; the broker is Redis (db 7 of 127.0.0.1:6379, or a private
``redis-server`` with ``--redis-port``); Watchkeeper's metric store is the PostgreSQL database
``watchkeeper_store``, configured once for every component as the Airflow connection ``watchkeeper_store``.

Each component is health-checked (the API server's ``/api/v2/monitor/health`` for the metadata DB, scheduler,
triggerer and DAG processor; a Celery ping for each worker), the UI address is printed, and Ctrl-C (or
``launch.py down`` from another shell) stops everything cleanly: scheduler first, workers after a warm
shutdown, the API server last. ``launch.py status`` prints the health of a running deployment.

Only the standard library and the packages of Watchkeeper's venv (celery, redis, psycopg) are used here;
Airflow itself runs as ``airflow`` commands. See docs/deployment.md for the production equivalents.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
#: Stop order: nothing new is scheduled, then running tasks finish, then the servers go.
STOP_ORDER = ("scheduler", "dag-processor", "triggerer", "worker", "api-server", "redis")


class DeployError(RuntimeError):
    """The deployment cannot start or a component is unhealthy; the message says what to do."""


@dataclass
class Settings:
    """Everything the launcher needs; the defaults are ``make airflow-celery``'s."""

    state_dir: Path = field(
        default_factory=lambda: Path(os.environ.get("WATCHKEEPER_HOME") or ROOT / ".watchkeeper") / "celery"
    )
    dags_folder: Path = ROOT / "dags"
    config_dir: Path | None = None  # default: <dags_folder>/models
    port: int = 8080
    host: str = "127.0.0.1"
    pg_url: str = "postgresql://postgres@127.0.0.1:5432"  # server URL without a database
    #: Server the components reach the metric store at (default ``pg_url``; tests put a proxy in between).
    store_pg_url: str | None = None
    airflow_db: str = "watchkeeper_airflow"
    store_db: str = "watchkeeper_store"
    redis_url: str = "redis://127.0.0.1:6379/7"
    #: Start a private ``redis-server`` on this port (and use it) instead of ``redis_url``.
    redis_port: int | None = None
    workers: int = 2
    concurrency: int = 8
    api_workers: int = 2
    #: Short heartbeat/queued timeouts and parse intervals, for tests and local clicking.
    fast: bool = True
    #: Extra environment for every component (e.g. Slack settings in tests).
    extra_env: dict[str, str] = field(default_factory=dict)
    reset_databases: bool = False
    #: Clone the metadata DB from a migrated template database kept per Airflow version (tests: a fresh
    #: metadata DB in seconds instead of a full ``airflow db migrate``).
    use_template: bool = False
    #: Also store the metric-store connection in the metadata DB (else only as AIRFLOW_CONN_* env var).
    connection_in_db: bool = True

    @property
    def airflow_home(self) -> Path:
        return self.state_dir / "airflow"

    @property
    def logs(self) -> Path:
        return self.state_dir / "logs"

    @property
    def pids(self) -> Path:
        return self.state_dir / "pids"

    @property
    def broker_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0" if self.redis_port else self.redis_url

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def db_url(self, database: str, driver: str = "psycopg2", server: str | None = None) -> str:
        rest = (server or self.pg_url).split("://", 1)[1]
        return f"postgresql+{driver}://{rest.rstrip('/')}/{database}"

    @property
    def store_url(self) -> str:
        """The metric store as SQLAlchemy URL (psycopg 3, Watchkeeper's driver)."""
        return self.db_url(self.store_db, "psycopg", self.store_pg_url)


@dataclass
class Component:
    """One long-running process, started in its own session so signals reach its whole process group."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    pid_path: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.pid_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 -- owned by the child for its lifetime
        log.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {' '.join(self.argv)}\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            self.argv,
            preexec_fn=_stop_with_parent,  # noqa: PLW1509 -- calls one resolved C function, nothing else
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=str(ROOT),
        )
        log.close()
        self.pid_path.write_text(str(self.proc.pid))

    @property
    def pid(self) -> int | None:
        if self.proc is not None:
            return self.proc.pid
        with suppress(OSError, ValueError):
            return int(self.pid_path.read_text())
        return None

    def alive(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        pid = self.pid
        return pid is not None and _pid_alive(pid)

    def signal_group(self, sig: int) -> None:
        """Send ``sig`` to every process of the component (its group, and any descendant that left it)."""
        pid = self.pid
        if pid is None:
            return
        tree = _descendants(pid)
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        for child in tree:
            with suppress(ProcessLookupError, PermissionError):
                os.kill(child, sig)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (warm shutdown), then SIGKILL after ``timeout`` seconds."""
        if not self.alive():
            self._reap()
            return
        self.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.alive():
            time.sleep(0.2)
        if self.alive():
            self.signal_group(signal.SIGKILL)
        self._reap()

    def kill(self) -> None:
        """SIGKILL the component and every process it started (a machine dying, as far as it can tell)."""
        self.signal_group(signal.SIGKILL)
        self._reap()

    def _reap(self) -> None:
        if self.proc is not None:
            with suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        with suppress(FileNotFoundError):
            self.pid_path.unlink()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _libc_prctl() -> Callable[..., int] | None:
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # not Linux
        return None


_PRCTL = _libc_prctl()


def _stop_with_parent() -> None:
    """In the child before exec: get SIGTERM when the launcher dies, so no component outlives it (Linux).

    Only calls an already-resolved C function: safe between fork and exec even with threads around.
    """
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with suppress(OSError):  # a zombie is dead for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    return True


def _descendants(pid: int) -> list[int]:
    """Every descendant of ``pid`` (from /proc; psutil is not needed for this)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with suppress(OSError, IndexError, ValueError):
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


class Deployment:
    """The processes of one deployment and how to check, stop, kill and restart them."""

    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.components: dict[str, Component] = {}
        self.hostname = socket.gethostname()
        self._secrets = self._load_secrets()

    # -- configuration -----------------------------------------------------------------------------

    def _load_secrets(self) -> dict[str, str]:
        """JWT secret, API secret key and Fernet key, shared by every component and kept across restarts."""
        path = self.s.state_dir / "secrets.json"
        if path.exists():
            return dict(json.loads(path.read_text()))
        from base64 import urlsafe_b64encode

        values = {
            "jwt_secret": secrets.token_urlsafe(64),
            "secret_key": secrets.token_urlsafe(64),
            "fernet_key": urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(json.dumps(values))
        return values

    @property
    def config_dir(self) -> Path:
        return (self.s.config_dir or self.s.dags_folder / "models").resolve()

    def env(self) -> dict[str, str]:
        """The environment of every Airflow component: the one place the deployment is configured."""
        s = self.s
        venv_bin = str(Path(sys.executable).parent)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "WATCHKEEPER_"))}
        env.update(
            {
                "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
                "AIRFLOW_HOME": str(s.airflow_home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(s.dags_folder.resolve()),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                # registers Watchkeeper's DAG-run note listener (until the Watchkeeper plugin lists it)
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(Path(__file__).resolve().parent / "plugins"),
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CORE__FERNET_KEY": self._secrets["fernet_key"],
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{s.base_url}/execution/",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": s.db_url(s.airflow_db),
                "AIRFLOW__CELERY__BROKER_URL": s.broker_url,
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + s.db_url(s.airflow_db),
                # Airflow's Celery defaults plus Watchkeeper's task modules imported once per worker
                "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": "watchkeeper.airflow.celery_config.CELERY_CONFIG",
                # a new model runs on its schedule without a click (its YAML's `paused: true` still wins)
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__API__BASE_URL": s.base_url,
                "AIRFLOW__API__HOST": s.host,
                "AIRFLOW__API__PORT": str(s.port),
                "AIRFLOW__API__WORKERS": str(s.api_workers),
                "AIRFLOW__API__SECRET_KEY": self._secrets["secret_key"],
                "AIRFLOW__API_AUTH__JWT_SECRET": self._secrets["jwt_secret"],
                # workers wait up to 30 s for the execution API (Airflow's 5 s is short on a loaded machine)
                "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
                # The metric store, once for every component (the connection in the metadata DB says the same).
                "AIRFLOW_CONN_WATCHKEEPER_STORE": s.store_url.replace("postgresql+psycopg://", "postgresql://"),
                "WATCHKEEPER_HOME": str(s.state_dir / "watchkeeper"),
                "WATCHKEEPER_CONFIG_DIR": str(self.config_dir),
                "GX_ANALYTICS_ENABLED": "false",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if s.connection_in_db:
            del env["AIRFLOW_CONN_WATCHKEEPER_STORE"]
        if s.fast:
            env.update(
                {
                    # notice a dead worker's tasks after 30 s instead of 5 min, and stuck queued ones after 120 s
                    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
                    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "120",
                    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
                    # unacknowledged broker messages of a dead worker go back to the queue after 90 s
                    "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "90",
                    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
                    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
                    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
                }
            )
        env.update(s.extra_env)
        return env

    # -- one-shot preparation ------------------------------------------------------------------------

    def _admin(self) -> Any:
        import psycopg

        try:
            return psycopg.connect(f"{self.s.pg_url.rstrip('/')}/postgres", autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            raise DeployError(
                f"PostgreSQL is not reachable at {self.s.pg_url} ({str(exc).strip().splitlines()[0]}) -- start it "
                "(e.g. `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`) or pass --pg-url"
            ) from None

    def create_databases(self) -> None:
        """Create the metadata and metric-store databases (drop them first with ``reset_databases``)."""
        with self._admin() as conn:
            for name in (self.s.airflow_db, self.s.store_db):
                if self.s.reset_databases and not (self.s.use_template and name == self.s.airflow_db):
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
                if not exists:
                    conn.execute(f'CREATE DATABASE "{name}"')

    def drop_databases(self) -> None:
        with self._admin() as conn:
            for name in (self.s.airflow_db, self.s.store_db):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def airflow(self, *args: str, timeout: float = 600, env: dict[str, str] | None = None) -> str:
        """Run an ``airflow`` command with the deployment's environment; its output, or DeployError."""
        exe = str(Path(sys.executable).parent / "airflow")
        out = subprocess.run(
            [exe, *args],
            env={**self.env(), **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=str(ROOT),
        )
        if out.returncode != 0:
            output = (out.stdout + out.stderr)[-3000:]
            raise DeployError(f"`airflow {' '.join(args)}` failed ({out.returncode}):\n{output}")
        return out.stdout

    def template_name(self) -> str:
        from importlib.metadata import version

        return "wk_airflow_template_" + version("apache-airflow-core").replace(".", "_")

    def _ensure_template(self, conn: Any) -> str:
        """A migrated metadata DB of this Airflow version to clone; built once (renamed into place when done)."""
        name = self.template_name()
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (name,))
        try:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                return name
            building = f"{name}_building"
            conn.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{building}"')
            self.airflow("db", "migrate", env={"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.s.db_url(building)})
            conn.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
            return name
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (name,))

    def prepare(self) -> None:
        """Databases, Airflow's schema, and the ``watchkeeper_store`` connection (once)."""
        self.s.state_dir.mkdir(parents=True, exist_ok=True)
        self.s.airflow_home.mkdir(parents=True, exist_ok=True)
        cloned = False
        if self.s.use_template:
            with self._admin() as conn:
                template = self._ensure_template(conn)
                conn.execute(f'DROP DATABASE IF EXISTS "{self.s.airflow_db}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{self.s.airflow_db}" TEMPLATE "{template}"')
                cloned = True
        self.create_databases()
        if not cloned:
            self.airflow("db", "migrate")
        if self.s.connection_in_db:
            uri = self.s.store_url.replace("postgresql+psycopg://", "postgresql://")
            path = self.s.state_dir / "connections.json"
            path.touch(mode=0o600)
            path.write_text(json.dumps({"watchkeeper_store": uri}))
            try:
                self.airflow("connections", "import", "--overwrite", str(path))
            finally:
                path.unlink()

    # -- components ------------------------------------------------------------------------------------

    def _component(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Component:
        comp = Component(name, argv, env or self.env(), self.s.logs / f"{name}.log", self.s.pids / f"{name}.pid")
        self.components[name] = comp
        return comp

    def worker_names(self) -> list[str]:
        return [f"worker{i}" for i in range(1, self.s.workers + 1)]

    def build(self) -> None:
        """Describe every component (nothing starts yet)."""
        exe = str(Path(sys.executable).parent / "airflow")
        if self.s.redis_port:
            self._component(
                "redis",
                [
                    "redis-server",
                    "--port",
                    str(self.s.redis_port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "yes",
                    "--dir",
                    str(self.s.state_dir),
                ],
            )
        self._component("api-server", [exe, "api-server", "--port", str(self.s.port), "--host", self.s.host])
        self._component("scheduler", [exe, "scheduler"])
        self._component("dag-processor", [exe, "dag-processor"])
        self._component("triggerer", [exe, "triggerer"])
        for i, name in enumerate(self.worker_names(), start=1):
            env = self.env()
            # two workers on one machine: each serves its task logs on its own port
            env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(8793 + (self.s.port % 1000) + i)
            self._component(
                name,
                [
                    exe,
                    "celery",
                    "worker",
                    "--celery-hostname",
                    f"{name}@{self.hostname}",
                    "--queues",
                    "default",
                    "--concurrency",
                    str(self.s.concurrency),
                    "--without-mingle",
                    "--without-gossip",
                ],
                env,
            )

    def start(self, wait: float = 240.0) -> None:
        """Prepare, start every component and wait until all are healthy."""
        if _port_open(self.s.host, self.s.port):
            raise DeployError(f"port {self.s.port} is already in use -- stop what listens there or pass --port")
        self.build()
        if "redis" in self.components:
            self.components["redis"].start()
            self.wait_for("redis", self.redis_healthy, 20)
        elif not self.redis_healthy():
            raise DeployError(
                f"Redis is not reachable at {self.s.broker_url} -- start redis-server or pass --redis-port"
            )
        self.prepare()
        self.components["api-server"].start()
        self.wait_for("api-server", lambda: self.api_health() is not None, wait)
        self.warm_up()
        for name in ("scheduler", "dag-processor", "triggerer", *self.worker_names()):
            self.components[name].start()
        self.wait_healthy(wait)

    def stop(self) -> None:
        """Stop every component, in :data:`STOP_ORDER`."""
        for prefix in STOP_ORDER:
            for name, comp in self.components.items():
                if name.startswith(prefix):
                    comp.stop(timeout=45 if prefix == "worker" else 20)

    def restart(self, name: str, *, wait: float = 120.0) -> None:
        """Stop (SIGTERM) and start one component, then wait until everything is healthy again."""
        comp = self.components[name]
        comp.stop()
        comp.start()
        if name == "redis":
            self.wait_for("redis", self.redis_healthy, 20)
        self.wait_healthy(wait)

    # -- health ------------------------------------------------------------------------------------------

    def redis_healthy(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.s.broker_url, socket_timeout=1, socket_connect_timeout=1).ping())
        except redis.RedisError:
            return False

    def api_health(self) -> dict[str, Any] | None:
        """The API server's ``/api/v2/monitor/health`` answer, or None while it does not answer."""
        try:
            with urllib.request.urlopen(f"{self.s.base_url}/api/v2/monitor/health", timeout=3) as resp:
                return dict(json.loads(resp.read()))
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def warm_up(self, requests: int = 6) -> None:
        """Answer a few execution-API requests before any worker needs one: the first request each API
        worker process serves builds its routes, which can take longer than a task's request timeout."""
        for _ in range(requests):
            with suppress(urllib.error.URLError, OSError):
                urllib.request.urlopen(f"{self.s.base_url}/execution/health", timeout=60).close()

    def workers_alive(self) -> set[str]:
        """Names of the Celery workers that answer a ping through the broker."""
        from celery import Celery

        app = Celery(broker=self.s.broker_url)
        try:
            replies = app.control.ping(timeout=1.5) or []
        except Exception:  # broker down: nobody answers
            return set()
        finally:
            app.close()
        return {name.split("@", 1)[0] for reply in replies for name in reply}

    def health(self) -> dict[str, str]:
        """``component -> healthy | unhealthy: why`` for every component."""
        out: dict[str, str] = {}
        for name, comp in self.components.items():
            if not comp.alive():
                out[name] = "unhealthy: process not running"
        if "redis" not in out:
            out["redis"] = "healthy" if self.redis_healthy() else f"unhealthy: no PING answer at {self.s.broker_url}"
        api = self.api_health()
        if api is None:
            out.setdefault("api-server", f"unhealthy: {self.s.base_url}/api/v2/monitor/health does not answer")
            for name in ("metadatabase", "scheduler", "triggerer", "dag-processor"):
                out.setdefault(name, "unknown: the API server does not answer")
        else:
            out.setdefault("api-server", "healthy")
            for key, name in (
                ("metadatabase", "metadatabase"),
                ("scheduler", "scheduler"),
                ("triggerer", "triggerer"),
                ("dag_processor", "dag-processor"),
            ):
                status = (api.get(key) or {}).get("status")
                out.setdefault(name, "healthy" if status == "healthy" else f"unhealthy: health endpoint says {status}")
        alive = self.workers_alive() if out["redis"] == "healthy" else set()
        for name in self.worker_names():
            out.setdefault(name, "healthy" if name in alive else "unhealthy: no answer to a Celery ping")
        return out

    def wait_for(self, what: str, check: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            comp = self.components.get(what)
            if comp is not None and not comp.alive():
                raise DeployError(f"{what} exited -- its log ({comp.log_path}) ends with:\n{comp.tail()}")
            time.sleep(1)
        raise DeployError(f"{what} not healthy after {timeout:.0f} s")

    def wait_healthy(self, timeout: float = 180.0) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        report: dict[str, str] = {}
        while time.monotonic() < deadline:
            report = self.health()
            if all(v == "healthy" for v in report.values()):
                return report
            dead = [n for n, c in self.components.items() if not c.alive()]
            if dead:
                comp = self.components[dead[0]]
                raise DeployError(f"{dead[0]} exited -- its log ({comp.log_path}) ends with:\n{comp.tail()}")
            time.sleep(2)
        bad = {k: v for k, v in report.items() if v != "healthy"}
        raise DeployError(f"not healthy after {timeout:.0f} s: {bad}")


@contextmanager
def running(settings: Settings) -> Iterator[Deployment]:
    """A started deployment, stopped on exit (also when starting fails half way)."""
    deployment = Deployment(settings)
    try:
        deployment.start()
        yield deployment
    finally:
        deployment.stop()


def _print_health(report: dict[str, str]) -> None:
    for name, status in report.items():
        print(f"  {name:<14} {status}")


def _settings(args: argparse.Namespace) -> Settings:
    s = Settings()
    if args.state_dir:
        s.state_dir = Path(args.state_dir).resolve()
    s.dags_folder = Path(args.dags_folder).resolve()
    s.config_dir = Path(args.config_dir).resolve() if args.config_dir else None
    s.port, s.pg_url, s.redis_url, s.redis_port = args.port, args.pg_url, args.redis_url, args.redis_port
    s.workers, s.concurrency = args.workers, args.concurrency
    s.reset_databases = getattr(args, "reset", False)
    return s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deploy/celery/launch.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "status", "down"], nargs="?", default="up")
    parser.add_argument("--state-dir", help="logs, pids and Airflow home (default $WATCHKEEPER_HOME/celery)")
    parser.add_argument("--dags-folder", default=str(ROOT / "dags"))
    parser.add_argument("--config-dir", help="model configs (default <dags-folder>/models)")
    parser.add_argument("--port", type=int, default=8080, help="API server / UI port")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/7", help="broker (a dedicated Redis db)")
    parser.add_argument("--redis-port", type=int, help="start a private redis-server on this port instead")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--concurrency", type=int, default=8, help="task slots per worker (tasks mostly wait on the API and databases)"
    )
    parser.add_argument("--reset", action="store_true", help="drop and recreate both databases first")
    args = parser.parse_args(argv)
    deployment = Deployment(_settings(args))
    deployment.build()
    if args.command == "status":
        _print_health(deployment.health())
        return 0
    if args.command == "down":
        for comp in deployment.components.values():
            if comp.pid is not None and comp.alive() is False:
                comp.pid_path.unlink(missing_ok=True)
        deployment.stop()
        print("stopped")
        return 0
    if shutil.which("redis-server") is None and args.redis_port:
        print("redis-server is not installed", file=sys.stderr)
        return 2
    from watchkeeper.settings import mask_url

    deployment.components.clear()
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        print(f"starting Airflow with CeleryExecutor (logs in {deployment.s.logs}) ...", flush=True)
        deployment.start()
        _print_health(deployment.health())
        print(
            f"\nAirflow UI: {deployment.s.base_url}/  -- Model health: {deployment.s.base_url}/watchkeeper/\n"
            f"metadata DB + Celery results: {deployment.s.db_url(deployment.s.airflow_db)}\n"
            f"metric store (connection watchkeeper_store): {mask_url(deployment.s.store_url)}\n"
            f"broker: {deployment.s.broker_url}; workers: {', '.join(deployment.worker_names())}\n"
            "Ctrl-C stops everything.",
            flush=True,
        )
        while True:
            time.sleep(5)
            dead = [n for n, c in deployment.components.items() if not c.alive()]
            if dead:
                print(f"{', '.join(dead)} exited -- see {deployment.s.logs}; stopping", file=sys.stderr)
                return 1
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
        return 0
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        deployment.stop()
        print("stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
