"""
natscluster.py - a real nats-server JetStream cluster on 127.0.0.1 for
sluice's cluster-mode integration tests.  Standard library only.

    from natscluster import NatsCluster
    nc = NatsCluster(tmp, n=3).start()   # waits for a meta leader
    d = Daemon(tmp / "d1", {"cluster.nats": nc.urls, "cluster.node": "n1"})
    nc.kill(1); nc.restart(1); nc.wait_jetstream(); nc.stop()
    nc.leader(); nc[0].jsz(); nc.index_of_url(status_nats_url)
    nc.js("STREAM.INFO.SLUICE_FETCH")    # the JetStream API, over NATS'
                                         # text protocol (js_api())

Each server gets its own directory tmpdir/nats/n<i+1>/ with its config
(server.conf), JetStream store (store/) and log (server.log, kept across
restarts, shown when a test fails).  Ports are picked free on 127.0.0.1 at
construction and kept across restarts, since the routes name them.

Servers a test leaves running are killed after it by harness.run_tests, as
Daemons are; a server also gets SIGKILL if the test process dies (Linux
PR_SET_PDEATHSIG), so no orphan keeps its ports.

Environment:
  SLUICE_NATS_SERVER   the nats-server program (default: on PATH, else
                       /usr/sbin/nats-server, where Debian puts it)
  SLUICE_REQUIRE_BINARIES=1   a missing nats-server fails instead of
                       skipping (CI sets it)
"""

import ctypes
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import harness
from harness import HarnessError, Skip

START_TIMEOUT = 30.0	# seconds start()/restart() wait for JetStream
STOP_TIMEOUT = 10.0	# seconds stop() waits after SIGTERM
HTTP_TIMEOUT = 2.0	# one monitoring request
LOG_TAIL_LINES = 30
CLUSTER_NAME = "sluice-test"
# What JetStream may reserve on disk per server: a stream with max_bytes
# reserves it on each replica's server up front (placement fails with
# 10005 "insufficient storage" past it), though nothing is written until
# messages come.  Tests keep their streams' limits under it.
MAX_FILE_STORE = "8GB"
SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")


def nats_server_binary():
    """Path of nats-server; Skip when missing, HarnessError instead with
    SLUICE_REQUIRE_BINARIES=1."""
    path = os.environ.get("SLUICE_NATS_SERVER")
    if not path:
        search = os.pathsep.join([os.environ.get("PATH", "")] +
                                 list(SBIN_DIRS))
        path = shutil.which("nats-server", path=search)
    if path and os.access(path, os.X_OK):
        return Path(path)
    msg = ("nats-server is not installed (Debian package nats-server; "
           "scripts/install-deps installs it)")
    if os.environ.get("SLUICE_REQUIRE_BINARIES") == "1":
        raise HarnessError(msg)
    raise Skip(msg)


def free_ports(n):
    """n distinct free TCP ports on 127.0.0.1 (held open together while
    picking, so they differ; another program could still take one before
    the server binds it, which start() reports)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _die_with_parent():
    """preexec_fn: SIGKILL this child when the test process dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)	# PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class NatsServer:
    """One nats-server of a NatsCluster.  Duck-types the part of
    harness.Daemon that run_tests' cleanup uses (running, kill, log_path,
    log_tail, what)."""

    what = "nats-server"

    def __init__(self, cluster, index, ports):
        self.cluster = cluster
        self.index = index
        self.name = f"n{index + 1}"
        self.port, self.http_port, self.route_port = ports
        self.dir = Path(cluster.dir) / self.name
        self.store_dir = self.dir / "store"
        self.conf_path = self.dir / "server.conf"
        self.log_path = self.dir / "server.log"
        self.proc = None
        self.starts = 0
        self.down = False	# stopped or killed on purpose

    @property
    def url(self):
        return f"nats://127.0.0.1:{self.port}"

    @property
    def route_url(self):
        return f"nats-route://127.0.0.1:{self.route_port}"

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def write_conf(self):
        routes = ", ".join(s.route_url for s in self.cluster.servers
                           if s is not self)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(
            f"# written by tests/integration/natscluster.py\n"
            f"server_name: {self.name}\n"
            f"listen: 127.0.0.1:{self.port}\n"
            f"http: 127.0.0.1:{self.http_port}\n"
            f"logtime: true\n"
            f"jetstream {{\n"
            f"  store_dir: \"{self.store_dir}\"\n"
            f"  max_mem_store: 256MB\n"
            f"  max_file_store: {self.cluster.max_file_store}\n"
            f"}}\n"
            f"cluster {{\n"
            f"  name: {self.cluster.name}\n"
            f"  listen: 127.0.0.1:{self.route_port}\n"
            f"  routes: [{routes}]\n"
            f"}}\n"
            f"{self.cluster.extra_conf}")

    def argv(self):
        return [str(nats_server_binary()), "-c", str(self.conf_path)]

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self):
        if self.running():
            raise HarnessError(f"nats-server {self.name} already running")
        argv = self.argv()
        self.write_conf()
        self.store_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.starts += 1
            log.write(f"=== harness start #{self.starts}: "
                      f"{shlex.join(argv)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log,
                                         cwd=self.dir,
                                         preexec_fn=_die_with_parent)
        self.down = False
        if self not in harness._live:
            harness._live.append(self)
        return self

    def kill(self):
        """SIGKILL and reap; returns the exit status (None if not
        started)."""
        if self.proc is None:
            return None
        self.down = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait()

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM (nats-server's clean shutdown) and wait; SIGKILL and
        HarnessError past timeout s."""
        if self.proc is None:
            return None
        self.down = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise HarnessError(f"nats-server {self.name} ignored SIGTERM "
                                   f"for {timeout}s:\n{self.log_tail()}") \
                    from None
        return self.proc.returncode

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n=LOG_TAIL_LINES):
        return harness._tail(self.log(), n)

    def monitor(self, path):
        """GET http://127.0.0.1:<http_port><path>, parsed as JSON; None
        when the server does not answer (down, starting)."""
        url = f"http://127.0.0.1:{self.http_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            try:
                return json.loads(e.read())
            except ValueError:
                return None
        except (OSError, ValueError):
            return None

    def jsz(self):
        return self.monitor("/jsz")


def nats_request(port, subject, payload=b"", timeout=5.0):
    """One request/reply over NATS' text protocol on 127.0.0.1:port (enough
    for the JetStream API: $JS.API.STREAM.INFO.<name> and the like, whose
    replies are JSON).  Returns the reply payload; HarnessError on -ERR or
    no reply within timeout s."""
    if isinstance(payload, str):
        payload = payload.encode()
    inbox = f"_INBOX.sluicetest.{os.getpid()}.{time.monotonic_ns()}"
    with socket.create_connection(("127.0.0.1", port), timeout) as s:
        f = s.makefile("rb")
        if not f.readline().startswith(b"INFO "):
            raise HarnessError(f"127.0.0.1:{port} is not a NATS server")
        s.sendall(b'CONNECT {"verbose":false,"pedantic":false,'
                  b'"protocol":1,"headers":false,"name":"sluice-test"}\r\n'
                  + f"SUB {inbox} 1\r\n".encode()
                  + f"PUB {subject} {inbox} {len(payload)}\r\n".encode()
                  + payload + b"\r\n")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = f.readline()
            if not line:
                break
            if line.startswith(b"PING"):
                s.sendall(b"PONG\r\n")
            elif line.startswith(b"-ERR"):
                raise HarnessError(f"NATS {subject}: {line.strip()!r}")
            elif line.startswith(b"MSG "):
                n = int(line.split()[-1])
                data = f.read(n + 2)[:n]
                return data
    raise HarnessError(f"NATS {subject}: no reply within {timeout}s")


def js_api(port, api, obj=None, timeout=5.0):
    """The JetStream API call $JS.API.<api> (e.g. "STREAM.INFO.SLUICE_FETCH",
    "CONSUMER.INFO.SLUICE_FETCH.p0") as parsed JSON."""
    body = json.dumps(obj).encode() if obj is not None else b""
    return json.loads(nats_request(port, f"$JS.API.{api}", body, timeout))


class NatsCluster:
    """n nats-servers with JetStream, routed to each other, on 127.0.0.1.
    Servers are addressed by index 0..n-1 (server_name n1..nN)."""

    def __init__(self, tmpdir, n=3, name=CLUSTER_NAME, extra_conf="",
                 max_file_store=MAX_FILE_STORE):
        nats_server_binary()	# skip (or fail) before anything is made
        self.dir = Path(tmpdir) / "nats"
        self.name = name
        self.max_file_store = max_file_store
        self.extra_conf = extra_conf
        ports = free_ports(3 * n)
        self.servers = [NatsServer(self, i, ports[3 * i:3 * i + 3])
                        for i in range(n)]

    def __len__(self):
        return len(self.servers)

    def __getitem__(self, i):
        return self.servers[i]

    @property
    def urls(self):
        """Every server's client URL, comma-separated (cluster.nats)."""
        return ",".join(s.url for s in self.servers)

    def live(self):
        return [s for s in self.servers if s.running()]

    def start(self, wait=True, timeout=START_TIMEOUT):
        """Starts every server that is not running; with wait, returns
        once JetStream has a meta leader every live server agrees on."""
        for s in self.servers:
            if not s.running():
                s.start()
        if wait:
            self.wait_jetstream(timeout)
        return self

    def kill(self, i):
        """kill -9 of server i; returns its exit status."""
        return self.servers[i].kill()

    def restart(self, i, wait=True, timeout=START_TIMEOUT):
        """Starts server i again (after kill() or stop()) on its ports and
        store; with wait, returns once the cluster has its meta leader and
        server i is current with it."""
        s = self.servers[i]
        if s.running():
            s.stop()
        s.start()
        if wait:
            self.wait_jetstream(timeout)
        return self

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM every server (SIGKILL past timeout)."""
        errors = []
        for s in self.servers:
            try:
                s.stop(timeout)
            except HarnessError as e:
                errors.append(str(e))
        if errors:
            raise HarnessError("\n".join(errors))

    def meta(self):
        """{server name: /jsz meta_cluster, or None} for every live
        server."""
        out = {}
        for s in self.live():
            z = s.jsz()
            out[s.name] = z.get("meta_cluster") if z else None
        return out

    def leader(self):
        """Name of the meta leader when JetStream is ready, else None.
        Ready means: every live server answers /jsz and names the same
        leader, the leader is live, and the leader sees every other live
        server as a current peer.  (A follower goes on naming a killed
        leader for a few seconds; /healthz says "ok" before any leader
        exists, so neither alone is enough.)"""
        live = self.live()
        if not live:
            return None
        meta = self.meta()
        leaders = {m.get("leader") if m else None for m in meta.values()}
        if len(leaders) != 1:
            return None
        leader = leaders.pop()
        by_name = {s.name: s for s in live}
        if leader not in by_name:
            return None
        lz = by_name[leader].jsz()
        lm = (lz or {}).get("meta_cluster") or {}
        if lm.get("leader") != leader:
            return None
        current = {r.get("name") for r in lm.get("replicas") or []
                   if r.get("current")}
        if not set(by_name) - {leader} <= current:
            return None
        return leader

    def wait_jetstream(self, timeout=START_TIMEOUT):
        """Waits until leader() names one; returns it.  HarnessError with
        every server's log tail otherwise (or if a server died)."""
        deadline = time.monotonic() + timeout
        while True:
            for s in self.servers:
                if s.proc is not None and not s.down and \
                        s.proc.poll() is not None:
                    raise HarnessError(f"nats-server {s.name} exited with "
                                       f"{s.proc.returncode}:\n"
                                       f"{s.log_tail()}")
            leader = self.leader()
            if leader:
                return leader
            if time.monotonic() >= deadline:
                tails = "\n".join(f"  {s.name} ({s.log_path}):\n"
                                  f"{s.log_tail()}" for s in self.servers)
                raise HarnessError(f"JetStream has no meta leader after "
                                   f"{timeout}s; /jsz: {self.meta()}\n"
                                   f"{tails}")
            time.sleep(0.1)

    def js(self, api, obj=None, timeout=5.0):
        """js_api() through the first live server."""
        live = self.live()
        if not live:
            raise HarnessError("no nats-server is running")
        return js_api(live[0].port, api, obj, timeout)

    def index_of_url(self, url):
        """Index of the server whose client URL is url (as a sluiced
        status reports it), or None."""
        for s in self.servers:
            if url and url.rstrip("/") == s.url:
                return s.index
        return None

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            for s in self.servers:
                s.kill()
            return False
        self.stop()
        return False
