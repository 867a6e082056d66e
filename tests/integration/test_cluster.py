#!/usr/bin/env python3
"""
test_cluster.py - sluice's cluster mode (issue 15; docs/cluster.md): several
sluiced nodes on a 3-node nats-server JetStream cluster (natscluster.py),
all on 127.0.0.1, fetching from fixture servers on many ports (each port is
a host to sluice).

The tests that start NATS skip when nats-server is missing, unless
SLUICE_REQUIRE_BINARIES=1 (CI sets it in .ci/run): then they fail.
test_politeness_check_on_standalone, test_cluster_checks_catch_faults and
test_standalone_needs_no_nats need no NATS.  A missing sluiced or sluicectl
fails either way.

  test_cluster_harness_starts_jetstream   the harness alone (no sluiced)
  test_politeness_check_on_standalone     the ingest test's checks pass on
                                          one standalone sluiced
  test_cluster_checks_catch_faults        ... and fail on made-up faults
  test_standalone_needs_no_nats           no [cluster]: no "cluster" in
                                          status, "unsupported" commands
  test_cluster_ingest_survives_kills      the issue's test (about 1-1.5 min)
  test_cluster_node_without_nats          all NATS servers die and return
  test_cluster_redirect_goes_to_target_owner
                                          a redirect to another node's host
                                          is handed to that node
  test_cluster_redirect_outlives_target_owner
                                          ... which dies: the next owner
                                          takes the handed jobs up
  test_cluster_refuses_other_layout       other partitions, other version
  test_cluster_commands                   streams as designed; SLUICE_KEYS
                                          bodies v1 and v2; status
                                          --cluster, nodes, export --cluster
                                          [--since]; feed/site add refused

A failed run keeps its scratch directory with SLUICE_KEEP_TMP=fail: every
node's and server's log, and for the ingest test fixture-requests.jsonl
(each request's port, path, node, start and end, from the sluiced kill).
"""

import base64
import json
import os
import random
import re
import shutil
import struct
import subprocess
import time
import urllib.parse
from collections import Counter, defaultdict
from contextlib import ExitStack
from datetime import datetime, timezone

from harness import (Client, Daemon, HarnessError, build_dir, run_tests,
                     source_dir, wait_until)
from fixture_server import FixtureServer, Request
from natscluster import NatsCluster, nats_request
from test_metrics import scrape

LEASE_TTL = 3.0			# cluster.lease_ttl, seconds (its minimum)
ACK_WAIT = 5.0			# cluster.ack_wait, seconds
HOST_DELAY = 0.25		# fetch.host_delay, seconds
# The fixture stamps a request when a Python thread has read its head: on
# 2 loaded cores that comes up to ~30 ms late (measured: a standalone
# sluiced's keep-alive requests 170-178 ms apart at a 200 ms delay, each
# short gap right after a long one, the pair summing to >= 2 delays).  A
# second owner of a host shows as overlaps and gaps far shorter.
DELAY_SLACK = 0.05
WINDOW = 24			# cluster.window
PORTS = 12			# fixture servers (hosts) in the ingest test
PAGES = 20			# distinct pages per host
PAIRS = 3			# pages identical on two hosts (port 2j, 2j+1)
CONNECT_TIMEOUT = 20.0		# a node's first connection and its leases

# Every node: short lease and AckWait so failover fits in a test; one
# transfer per host and a 200 ms delay, so politeness is measurable.
CLUSTER_SETS = {
    "cluster.lease_ttl": f"{int(LEASE_TTL)}s",
    "cluster.ack_wait": f"{int(ACK_WAIT)}s",
    "cluster.replicas": 3,
    "cluster.window": WINDOW,
    # JetStream reserves a stream's max_bytes on every replica's server:
    # the defaults (1 GiB + 10 GiB) would not fit natscluster's stores.
    "cluster.docs_max_bytes": "256MiB",
    "cluster.keys_max_bytes": "256MiB",
    "fetch.host_delay": f"{int(HOST_DELAY * 1000)}ms",
    "fetch.max_per_host": 1,
    "fetch.timeout": "3s",
    "fetch.connect_timeout": "2s",
    "queue.retry_base": "200ms",
    "fetch.host_backoff_min": "200ms",
}


# ---- helpers ---------------------------------------------------------------

def need_sluice():
    """sluiced and sluicectl must be built: a missing one fails (as in
    itlib), whatever SLUICE_REQUIRE_BINARIES says."""
    for name in ("sluiced", "sluicectl"):
        p = build_dir() / name
        if not (p.is_file() and os.access(p, os.X_OK)):
            raise HarnessError(f"{p} is not built")


def start_nats(tmp):
    """The 3-node JetStream cluster (skips or fails when nats-server is
    missing, see natscluster.nats_server_binary), up with a meta leader."""
    nc = NatsCluster(tmp, n=3)
    need_sluice()
    return nc.start()


def user_agent(name):
    """fetch.user_agent naming node name (sluiced wants a contact URL)."""
    return f"sluice-test/{name} (+http://127.0.0.1/bot)"


def node(tmp, nc, name, **sets):
    """A sluiced cluster node named name (not started).  Its User-Agent
    names it, so the fixture log tells which node fetched what."""
    s = dict(CLUSTER_SETS)
    s.update({"cluster.nats": nc.urls, "cluster.node": name,
              "fetch.user_agent": user_agent(name)})
    s.update({k.replace("__", "."): v for k, v in sets.items()})
    return Daemon(tmp / name, s)


def stop_clean(d):
    """SIGTERM; the node must exit 0 with no sanitizer report in its log
    (over every start, the killed ones' too)."""
    code = d.stop()
    assert code == 0, f"{d.dir.name} exited {code}:\n{d.log_tail()}"
    errors = d.sanitizer_errors()
    assert not errors, f"{d.dir.name}: sanitizer reports:\n" + \
        "\n".join(errors[:20])


def req(d, obj, timeout=30.0):
    with Client(d.sock, timeout) as c:
        return c.request(obj)


def status(d):
    r = req(d, {"cmd": "status"})
    assert r.get("ok") is True, r
    return r


def cstatus(d):
    """status.cluster of a cluster node.  A status without it means the
    daemon does not run cluster mode at all: said plainly."""
    s = status(d)
    assert "cluster" in s, \
        (f"status of a node started with cluster.nats set has no \"cluster\" "
         f"object: this sluiced does not run cluster mode: {s}")
    return s["cluster"]


def wait_connected(d, timeout=CONNECT_TIMEOUT):
    return wait_until(lambda: cstatus(d).get("connected") is True and
                      cstatus(d), timeout, 0.1,
                      f"{d.dir.name} connected to NATS")


def wait_partitions(nodes, partitions, timeout=CONNECT_TIMEOUT,
                    each=True, balanced=False):
    """Waits until the nodes' status.cluster.partitions are disjoint and
    cover 0..partitions-1 (with each, every node owns some; balanced,
    every node its fair share, so that none moves after).  Returns
    {node dir name: [partitions]}."""
    def check():
        owned = {d.dir.name: cstatus(d).get("partitions") or []
                 for d in nodes}
        flat = [p for ps in owned.values() for p in ps]
        if sorted(flat) != list(range(partitions)):
            return None
        if each and not all(owned.values()):
            return None
        if balanced and max(map(len, owned.values())) - \
                min(map(len, owned.values())) > 1:
            return None
        return owned
    return wait_until(check, timeout, 0.2,
                      f"{partitions} partitions owned once by "
                      f"{[d.dir.name for d in nodes]}")


def ctl_error_code(r):
    """The error code of a failed `sluicectl --json` run."""
    assert r.code != 0, f"expected a failure: {r.argv} gave {r.out!r}"
    lines = r.json
    assert lines, (f"{r.argv}: exit {r.code}, no JSON reply; "
                   f"stderr {r.err!r}")
    err = lines[-1].get("error") or {}
    return err.get("code")


def submit_ctl(d, urls):
    """`sluicectl --json submit -` of urls on node d; every reply line must
    be ok.  Returns the results, in order."""
    r = d.ctl("submit", "-", input="".join(u + "\n" for u in urls),
              timeout=120)
    if r.code != 0:
        bad = [ln for ln in r.json if ln.get("ok") is not True] or r.json
        raise HarnessError(f"sluicectl submit on {d.dir.name} exited "
                           f"{r.code}: {str(bad)[:1500]}; stderr {r.err!r}")
    results, forwarded = [], 0
    for line in r.json:
        assert line.get("ok") is True, line
        results += line["results"]
        forwarded += line.get("forwarded", 0)
    assert len(results) == len(urls), (len(results), len(urls))
    assert forwarded in (0, sum(x.get("status") == "forwarded"
                                for x in results)), (forwarded, r.json)
    return results


def submit_raw(d, urls, batch=1000):
    """The submit requests sluicectl sends, on the socket, in batches;
    every reply must be ok.  Returns the results, in order."""
    results = []
    with Client(d.sock, 60) as c:
        for i in range(0, len(urls), batch):
            part = urls[i:i + batch]
            r = c.request({"cmd": "submit", "urls": part})
            assert r.get("ok") is True, r
            assert r.get("forwarded") == len(part) and \
                r.get("rejected") == 0, {k: v for k, v in r.items()
                                         if k != "results"}
            results += r["results"]
    assert len(results) == len(urls), (len(results), len(urls))
    return results


def check_forwarded(results, partitions):
    """Each result of a cluster submit is {"url","status":"forwarded",
    "partition":N} with 0 <= N < partitions; returns {url: N}."""
    out = {}
    for res in results:
        assert res.get("status") == "forwarded", res
        p = res.get("partition")
        assert isinstance(p, int) and 0 <= p < partitions, res
        out[res["url"]] = p
    return out


def host_of(url):
    return url.split("/", 3)[2]


def page_requests(reqs):
    return [r for r in reqs if r.path != "/robots.txt"]


def fetcher(r):
    """The node a fixture request came from (its User-Agent)."""
    ua = r.header("user-agent", "")
    if "sluice-test/" not in ua:
        return ua
    return ua.split("sluice-test/", 1)[1].split()[0]


def politeness_violations(reqs, delay, slack=DELAY_SLACK, t0=None):
    """Per port (host): requests overlapping in time, or starting closer
    than delay - slack after the previous start, whichever nodes sent
    them.  robots.txt counts like any request.  Returns descriptions
    (with each request's start relative to t0, when given).

    A stamp that came late (the fixture's thread scheduled late on loaded
    cores, the ASan build's above all) makes the gap before it long and
    the gap after it short.  A short gap is forgiven only as that: at
    least half the delay, right after a gap that makes up for it (the two
    at least two delays less the slack each).  Two nodes fetching one
    host alternately show gaps short twice in a row, or overlaps."""
    def at(r):
        return "" if t0 is None else f" at {r.time - t0:+.2f}s"
    by_port = defaultdict(list)
    for r in reqs:
        by_port[r.port].append(r)
    bad = []
    for port, rs in sorted(by_port.items()):
        rs.sort(key=lambda r: r.time)
        prev = None
        for a, b in zip(rs, rs[1:]):
            if a.end is None or b.time < a.end:
                bad.append(f"port {port}: {b.path} by {fetcher(b)}{at(b)} "
                           f"began while {a.path} by {fetcher(a)} was in "
                           f"flight")
            gap, before, prev = b.time - a.time, prev, b.time - a.time
            late = before is not None and gap >= delay / 2 and \
                before + gap >= 2 * (delay - slack)
            if gap < delay - slack and late:
                prev = None     # the long gap made up for this one only
            elif gap < delay - slack:
                bad.append(f"port {port}: {b.path} by {fetcher(b)}{at(b)} "
                           f"{(b.time - a.time) * 1000:.0f} ms after "
                           f"{a.path} by {fetcher(a)}")
    return bad


class Farm:
    """n fixture servers on 127.0.0.1, one port each."""

    def __init__(self, stack, n):
        self.servers = [stack.enter_context(FixtureServer())
                        for _ in range(n)]

    @property
    def requests(self):
        return [r for s in self.servers for r in s.requests]

    def dump(self, path, t0):
        """Writes the request log, one JSON line per request (port, path,
        node, start and end in seconds from t0), sorted by port and start:
        kept with the scratch directory (SLUICE_KEEP_TMP=fail)."""
        rows = sorted(self.requests, key=lambda r: (r.port, r.time))
        with open(path, "w") as f:
            for r in rows:
                f.write(json.dumps({
                    "port": r.port, "path": r.path, "node": fetcher(r),
                    "start": round(r.time - t0, 4),
                    "end": None if r.end is None else round(r.end - t0, 4),
                    "status": r.status}) + "\n")

    def hits(self):
        """{url: requests}, robots.txt left out."""
        out = defaultdict(int)
        for s in self.servers:
            for r in page_requests(s.requests):
                out[s.url(r.target)] += 1
        return out


def farm_urls(farm, pages=PAGES, pairs=PAIRS):
    """(urls, pairs): pages distinct everywhere on every port, plus
    /page/<90000+j> served identically by ports 2j and 2j+1 (the fixture's
    /page/<n> does not depend on the port)."""
    urls = [s.url(f"/page/{1000 * (i + 1) + k}")
            for i, s in enumerate(farm.servers) for k in range(pages)]
    dup = []
    for j in range(pairs):
        a, b = farm.servers[2 * j], farm.servers[2 * j + 1]
        dup.append((a.url(f"/page/{90000 + j}"), b.url(f"/page/{90000 + j}")))
        urls += dup[-1]
    return urls, dup


def export_lines(d, *args, timeout=120):
    """`sluicectl --json export ARGS`: (data lines, final line)."""
    r = d.ctl("export", *args, timeout=timeout).check()
    lines = r.json
    assert lines and lines[-1].get("ok") is True, lines[-1:]
    return lines[:-1], lines[-1]


def local_docs(d, name):
    """Every document node d stored, copies included, as (node, doc)."""
    lines, final = export_lines(d, "--duplicates", "include")
    assert final.get("count") == len(lines), final
    return [(name, ln["doc"]) for ln in lines]


def line_doc(line):
    """The document of an `export --cluster` line and the node that
    stored it.  The design puts "node" in the export line; accepted next
    to "doc" or inside it."""
    doc = line.get("doc", line)
    name = line.get("node", doc.get("node"))
    assert isinstance(name, str) and name, f"cluster export line without " \
        f"\"node\": {line}"
    return name, doc


def first_ref(name, doc):
    """(node, id) of the first copy a document duplicates; None for a
    first copy.  A cluster node's document carries the cluster's verdict
    (docs/protocol.md, export): "cluster": {"seq", "first", "kind",
    "similarity", "duplicate_of": {"node", "doc", "url", "seq"}}; its local
    duplicate_of stays that node's own view.  A standalone document has
    only the local one."""
    c = doc.get("cluster")
    if c is not None:
        if c.get("first") is True:
            return None
        dup = c.get("duplicate_of") or {}
        return (dup.get("node"), dup.get("doc"))
    if doc.get("duplicate_of") is None:
        return None
    return (name, doc["duplicate_of"])


def dup_kind(doc):
    c = doc.get("cluster")
    return c.get("kind") if c is not None else doc.get("duplicate_kind")


def check_one_first_copy(docs, distinct, pairs):
    """docs: (node, doc) for every stored document in the cluster.  Each
    distinct URL has exactly one first copy, any other document of it
    being a copy of that one; each pair of identical pages on two hosts has
    one first copy between them, the rest exact copies of it (the same one
    whichever node stored the copy)."""
    by_url = defaultdict(list)
    problems = []
    seqs = {}
    for name, doc in docs:
        by_url[doc["url"]].append((name, doc))
        c = doc.get("cluster")
        if c is not None:
            if not isinstance(c.get("seq"), int):
                problems.append(f"{name}/{doc['id']}: no SLUICE_KEYS seq "
                                f"in its verdict {c}")
            seqs[(name, doc["id"])] = c.get("seq")
    # The stream's order decides: a copy's first copy came before it, and
    # the verdict names that first copy's own message.  A message holds
    # one node's documents of 100 ms, in ascending id order: a first copy
    # in the copy's own message is an earlier document of the same node.
    for name, doc in docs:
        c = doc.get("cluster")
        if c is None or c.get("first") is True:
            continue
        dup = c.get("duplicate_of") or {}
        ref = (dup.get("node"), dup.get("doc"))
        if not (isinstance(dup.get("seq"), int) and
                isinstance(c.get("seq"), int) and
                (dup["seq"] < c["seq"] or
                 (dup["seq"] == c["seq"] and ref[0] == name and
                  isinstance(ref[1], int) and ref[1] < doc["id"]))):
            problems.append(f"{name}/{doc['id']}: copy at seq "
                            f"{c.get('seq')} of a first copy at seq "
                            f"{dup.get('seq')}")
        if ref in seqs and seqs[ref] != dup.get("seq"):
            problems.append(f"{name}/{doc['id']}: names {ref} at seq "
                            f"{dup.get('seq')}, which is at {seqs[ref]}")
    groups = [(u,) for u in distinct] + list(pairs)
    for group in groups:
        mine = [nd for u in group for nd in by_url.get(u, [])]
        firsts = [(n, d["id"]) for n, d in mine if first_ref(n, d) is None]
        if len(firsts) != 1:
            problems.append(f"{group}: {len(firsts)} first copies "
                            f"{firsts} among " + str([
                                (n, d["id"], d.get("content_hash"),
                                 d.get("fetched_at")) for n, d in mine]))
            continue
        for n, d in mine:
            ref = first_ref(n, d)
            if ref is None:
                continue
            if ref != firsts[0]:
                problems.append(f"{group}: {n}/{d['id']} is a copy of {ref}, "
                                f"not of the first copy {firsts[0]}")
            kinds = ("exact", "url") if len(group) == 1 else ("exact",)
            if dup_kind(d) not in kinds:
                problems.append(f"{group}: {n}/{d['id']} duplicate_kind "
                                f"{dup_kind(d)!r}")
    return problems


def stream_info(nc, name):
    """$JS.API.STREAM.INFO of name, or None while it has no leader (no
    reply, or an error such as 10008)."""
    try:
        r = nc.js(f"STREAM.INFO.{name}", timeout=2.0)
    except (HarnessError, OSError):
        return None
    return None if "error" in r else r


def stream_current(nc, name, replicas):
    """True when stream name has a leader and replicas - 1 current
    followers."""
    info = stream_info(nc, name)
    if not info:
        return False
    peers = info.get("cluster", {}).get("replicas") or []
    return len([p for p in peers if p.get("current")]) == replicas - 1


def rfc3339_now():
    dt = datetime.now(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


# ---- the harness and the checks -------------------------------------------

def test_cluster_harness_starts_jetstream(tmp):
    """Three servers, own names, stores and ports, routed to
    each other; JetStream elects a meta leader all agree on, R3 streams
    can be made, a kill -9 of the leader gives a new one, and the killed
    server comes back current from its store."""
    nc = NatsCluster(tmp, n=3)
    t0 = time.monotonic()
    nc.start()
    took = time.monotonic() - t0
    assert took < 20, f"meta leader after {took:.1f}s"
    names = [s.name for s in nc]
    assert names == ["n1", "n2", "n3"], names
    ports = [p for s in nc for p in (s.port, s.http_port, s.route_port)]
    assert len(set(ports)) == 9, ports
    assert len({s.store_dir for s in nc}) == 3
    assert nc.urls == ",".join(f"nats://127.0.0.1:{s.port}" for s in nc)
    for s in nc:
        conf = s.conf_path.read_text()
        assert "127.0.0.1" in conf and "0.0.0.0" not in conf, conf
        z = s.jsz()
        assert z and z["meta_cluster"]["cluster_size"] == 3, z
    leader = nc.leader()
    lz = nc[names.index(leader)].jsz()["meta_cluster"]
    peers = {r["name"] for r in lz["replicas"] if r["current"]}
    assert peers == set(names) - {leader}, lz

    # JetStream takes an R3 stream and a message on it.
    r = nc.js("STREAM.CREATE.HARNESS", {
        "name": "HARNESS", "subjects": ["harness.>"], "storage": "file",
        "retention": "workqueue", "num_replicas": 3})
    assert "error" not in r, r
    assert len(r["cluster"].get("replicas", [])) == 2, r["cluster"]

    # kill -9 the leader: the two others elect one; it comes back.
    i = names.index(leader)
    assert nc.kill(i) == -9
    t0 = time.monotonic()
    new = nc.wait_jetstream(30)
    failover = time.monotonic() - t0
    assert new != leader and new in names, (leader, new)
    # The stream elects its own leader after the meta leader.
    info = wait_until(lambda: stream_info(nc, "HARNESS"), 30, 0.2,
                      "stream HARNESS answering after the kill")
    assert info["config"]["num_replicas"] == 3, info
    nc.restart(i)
    assert nc[i].starts == 2 and nc[i].running()
    wait_until(lambda: stream_current(nc, "HARNESS", 3), 30, 0.2,
               "stream HARNESS with 3 current replicas")
    log = nc[i].log()
    assert log.count("=== harness start #") == 2, log[-2000:]
    print(f"  meta leader {took:.1f}s after start, new leader "
          f"{failover:.1f}s after kill -9")
    nc.stop()
    assert not nc.live()


def test_politeness_check_on_standalone(tmp):
    """The ingest test's farm and checks against one standalone
    sluiced: the baseline that shows the politeness check passes on a
    daemon known to be polite, and that the fixture log proves it."""
    need_sluice()
    with ExitStack() as stack:
        farm = Farm(stack, PORTS)
        urls, pairs = farm_urls(farm, pages=8)
        sets = {k: v for k, v in CLUSTER_SETS.items()
                if not k.startswith("cluster.")}
        d = stack.enter_context(Daemon(tmp / "solo", dict(
            sets, **{"fetch.user_agent": user_agent("solo")})))
        submit_ctl(d, urls)
        submit_ctl(d, list(reversed(urls)))
        r = req(d, {"cmd": "wait", "timeout": 60}, 90)
        assert r == {"ok": True, "queued": 0, "active": 0}, r
        hits = farm.hits()
        assert set(hits) == set(urls), set(urls) ^ set(hits)
        assert all(n == 1 for n in hits.values()), \
            {u: n for u, n in hits.items() if n != 1}
        bad = politeness_violations(farm.requests, HOST_DELAY)
        assert not bad, "\n".join(bad[:20])
        assert {fetcher(r) for r in farm.requests} == {"solo"}
        # The check can fail: the same log is too fast for twice the delay.
        assert politeness_violations(farm.requests, 2 * HOST_DELAY)
        docs = local_docs(d, "solo")
        distinct = [u for u in urls if not any(u in p for p in pairs)]
        problems = check_one_first_copy(docs, distinct, pairs)
        assert not problems, "\n".join(problems)
        # The check can fail: taken as distinct URLs, the copy of each
        # pair has no first copy of its own.
        broken = check_one_first_copy(docs, [u for p in pairs for u in p],
                                      [])
        assert len(broken) == PAIRS, broken


def test_cluster_checks_catch_faults():
    """The ingest test's checks on made-up logs and documents:
    they pass a correct run and catch each fault they are for."""
    def r(port, t, end, path="/page/1", node="n1"):
        return Request("GET", path, path, {},
                       {"user-agent": user_agent(node)}, t, t, ("", 0),
                       200, end, port)
    polite = [r(1, 0.0, 0.05), r(1, 0.2, 0.25, node="n2"), r(2, 0.0, 0.3),
              r(2, 0.3, 0.31, "/robots.txt")]
    assert politeness_violations(polite, 0.2) == []
    overlap = politeness_violations(polite + [r(1, 0.24, 0.5, node="n3")],
                                    0.2)
    assert any("in flight" in b and "by n3" in b for b in overlap), overlap
    close = politeness_violations([r(1, 0.0, 0.01), r(1, 0.1, 0.11)], 0.2)
    assert len(close) == 1 and "100 ms" in close[0], close
    # A late stamp: a long gap, then a short one; the pair is polite.
    late = [r(1, 0.0, 0.01), r(1, 0.31, 0.32), r(1, 0.42, 0.43),
            r(1, 0.62, 0.63)]
    assert politeness_violations(late, 0.2) == [], \
        politeness_violations(late, 0.2)
    # Two nodes taking turns on one host, never overlapping: every gap
    # short, caught.
    turns = [r(1, 0.11 * i, 0.11 * i + 0.01, node=f"n{1 + i % 2}")
             for i in range(6)]
    assert len(politeness_violations(turns, 0.2)) >= 4, \
        politeness_violations(turns, 0.2)
    # A long gap excuses one short gap, not two.
    twice = [r(1, 0.0, 0.01), r(1, 0.5, 0.51), r(1, 0.61, 0.62),
             r(1, 0.72, 0.73)]
    assert len(politeness_violations(twice, 0.2)) == 1, \
        politeness_violations(twice, 0.2)

    a, b, c = "http://127.0.0.1:1/p/1", "http://127.0.0.1:2/p/1", \
        "http://127.0.0.1:3/p/2"

    def d(i, url, seq, dup=None, kind="exact"):
        v = {"seq": seq, "first": dup is None}
        if dup is not None:
            v.update(kind=kind, similarity=1.0, duplicate_of={
                "node": dup[0], "doc": dup[1], "url": a, "seq": dup[2]})
        return {"id": i, "url": url, "duplicate_of": None,
                "duplicate_kind": None, "cluster": v}
    good = [("n1", d(5, a, 1)),
            ("n2", d(5, b, 2, ("n1", 5, 1))),
            ("n3", d(9, a, 4, ("n1", 5, 1))),
            ("n3", d(5, c, 3))]
    assert check_one_first_copy(good, [c], [(a, b)]) == []
    two = good + [("n2", d(7, c, 5))]
    assert "2 first copies" in check_one_first_copy(two, [c], [(a, b)])[0]
    none = check_one_first_copy(good, [c, "http://127.0.0.1:4/x"], [(a, b)])
    assert len(none) == 1 and "0 first copies" in none[0], none
    # Two nodes linking a pair to different first copies.
    split = [good[0], ("n2", d(5, b, 2, ("n2", 5, 2)))]
    assert check_one_first_copy(split, [], [(a, b)])
    near = [good[0], ("n2", d(6, b, 2, ("n1", 5, 1), "near"))]
    assert "duplicate_kind 'near'" in \
        check_one_first_copy(near, [], [(a, b)])[0]
    # Out of stream order, or naming the wrong message.
    late = [("n1", d(5, a, 3)), ("n2", d(5, b, 2, ("n1", 5, 3)))]
    assert any("copy at seq 2" in p
               for p in check_one_first_copy(late, [], [(a, b)]))
    # One message: an earlier document of the same node may be first,
    # a later one, or another node's, may not.
    same = [("n1", d(5, a, 3)), ("n1", d(6, b, 3, ("n1", 5, 3)))]
    assert check_one_first_copy(same, [], [(a, b)]) == []
    for bad in ([("n1", d(7, a, 3)), ("n1", d(6, b, 3, ("n1", 7, 3)))],
                [("n1", d(5, a, 3)), ("n2", d(6, b, 3, ("n1", 5, 3)))]):
        assert any("copy at seq 3" in p
                   for p in check_one_first_copy(bad, [], [(a, b)])), bad
    wrong = [good[0], ("n2", d(5, b, 2, ("n1", 5, 0)))]
    assert any("which is at 1" in p
               for p in check_one_first_copy(wrong, [], [(a, b)]))
    # A standalone document: the local duplicate_of.
    solo = [("s", {"id": 1, "url": a, "duplicate_of": None}),
            ("s", {"id": 2, "url": b, "duplicate_of": 1,
                   "duplicate_kind": "exact"})]
    assert check_one_first_copy(solo, [], [(a, b)]) == []


def test_standalone_needs_no_nats(tmp):
    """A daemon with no [cluster] has no "cluster" in status, and the
    cluster-only commands are refused with "unsupported"."""
    need_sluice()
    with Daemon(tmp) as d:
        s = status(d)
        assert "cluster" not in s, s
        assert "nats" not in d.log().lower(), d.log_tail()
        r = req(d, {"cmd": "nodes"})
        assert r.get("ok") is False and \
            r["error"]["code"] == "unsupported", r
        r = req(d, {"cmd": "status", "cluster": True})
        assert r.get("ok") is False and \
            r["error"]["code"] == "unsupported", r
        r = req(d, {"cmd": "export", "cluster": True})
        assert r.get("ok") is False and \
            r["error"]["code"] == "unsupported", r
        assert ctl_error_code(d.ctl("nodes")) == "unsupported"
        assert ctl_error_code(d.ctl("status", "--cluster")) == "unsupported"
        assert ctl_error_code(d.ctl("export", "--cluster")) == \
            "unsupported"


# ---- cluster mode ----------------------------------------------------------

def test_cluster_ingest_survives_kills(tmp):
    """The issue's test: 12 hosts x 20 pages + 3 pairs of identical pages
    on two hosts, each URL submitted (sluicectl submit) to two different
    nodes of three; kill -9 of one sluiced, then (2 s later) of the
    nats-server a survivor talks to, mid-run.  Then: every URL fetched,
    politeness held per host whoever fetched, URLs fetched again only
    within what the lost partitions held (never twice by one node), one
    first copy per page across the cluster with every copy naming it,
    SLUICE_DOCS the same from every node, and the killed node rejoins,
    takes partitions and fetches nothing again."""
    partitions = 16
    nc = start_nats(tmp)
    with ExitStack() as stack:
        farm = Farm(stack, PORTS)
        urls, pairs = farm_urls(farm)
        distinct = [u for u in urls if not any(u in p for p in pairs)]
        names = ["n1", "n2", "n3"]
        nodes = {n: node(tmp, nc, n, cluster__partitions=partitions)
                 for n in names}
        for d in nodes.values():
            d.start()
        for d in nodes.values():
            wait_connected(d)
        wait_partitions(list(nodes.values()), partitions)

        # Each URL twice, through two different nodes.
        rng = random.Random(15)
        batches = defaultdict(list)
        for i, u in enumerate(urls):
            a = i % 3
            batches[names[a]].append(u)
            batches[names[(a + 1) % 3]].append(u)
        part = {}
        for n in names:
            batch = batches[n]
            rng.shuffle(batch)
            for u, p in check_forwarded(submit_ctl(nodes[n], batch),
                                        partitions).items():
                assert part.setdefault(u, p) == p, (u, p, part[u])
        by_host = defaultdict(set)
        for u, p in part.items():
            by_host[host_of(u)].add(p)
        assert all(len(ps) == 1 for ps in by_host.values()), by_host
        # One message per partition and up to 32 URLs, not per URL.
        for n in names:
            per = Counter(part[u] for u in batches[n])
            c = cstatus(nodes[n])
            assert c.get("forwarded_urls") == len(batches[n]), c
            assert c.get("forwarded_messages") == sum(
                (k + 31) // 32 for k in per.values()), (c, per)

        # kill -9 of the busiest sluiced a quarter of the way in.
        total = len(urls)
        wait_until(lambda: len(farm.hits()) >= total // 4, 60, 0.05,
                   "a quarter of the URLs fetched")
        held = {n: cstatus(d).get("held", 0) for n, d in nodes.items()}
        victim = max(names, key=lambda n: (held[n], n == "n2"))
        t_kill = time.monotonic()
        assert nodes[victim].kill() == -9
        assert len(farm.hits()) < total, "ingest over before the kill"
        live = [n for n in names if n != victim]

        # 2 s later: kill -9 of the nats-server a survivor talks to.
        time.sleep(2)
        url = cstatus(nodes[live[0]]).get("nats_url")
        k = nc.index_of_url(url)
        assert k is not None, f"nats_url {url!r} is none of {nc.urls}"
        assert len(farm.hits()) < total, "ingest over before the NATS kill"
        assert nc.kill(k) == -9
        t_nats = time.monotonic()

        # The survivors finish it all: every URL fetched, nothing held.
        seen = {}

        def done():
            seen["fetched"] = f"{len(farm.hits())} of {total}"
            ok = len(farm.hits()) >= total
            for n in live:
                c = cstatus(nodes[n])
                s = status(nodes[n])
                seen[n] = (c.get("connected"), c.get("held"), c.get("lag"),
                           c.get("partitions"), s["jobs"])
                if not c.get("connected") or c.get("held") or c.get("lag") \
                        or s["jobs"]["queued"] or s["jobs"]["active"]:
                    ok = False
            return ok
        try:
            wait_until(done, 120, 0.25, "every URL fetched and nothing held")
        except HarnessError as e:
            # What was left, for the failure: (connected, held, lag,
            # partitions, jobs) per live node.
            raise HarnessError(f"{e}; last seen: {seen}") from None
        t_done = time.monotonic()
        # The dedup index is the same everywhere once SLUICE_KEYS is read:
        # keys JetStream refused during the election are published again
        # every 10 s, and a reader whose server died is made again after
        # two lease ticks; 45 s covers a few rounds of both.
        wait_until(lambda: len({cstatus(nodes[n]).get("keys_applied")
                                for n in live}) == 1, 45, 0.2,
                   "the same keys_applied on every live node")

        # Politeness, per port, across nodes.
        reqs = farm.requests
        farm.dump(tmp / "fixture-requests.jsonl", t_kill)
        bad = politeness_violations(reqs, HOST_DELAY, t0=t_kill)
        assert not bad, (f"times from the sluiced kill; nats-server killed "
                         f"at {t_nats - t_kill:+.2f}s:\n" +
                         "\n".join(bad[:20]))
        # A URL is fetched again only because a node lost partitions with
        # messages taken in and not yet acknowledged: the killed node, or a
        # survivor whose leases lapsed (with lease_ttl 3 s, shorter than a
        # JetStream leader election, the nats-server kill can do that).
        # Each node holds at most cluster.window such messages, so each
        # loss ("cluster: lost N partitions" in its log) or death lets at
        # most that many be fetched again, by another node or by the same
        # one (a lost lease ends its transfers at once, and the URL comes
        # back with its message).  (The copies are then duplicates of one
        # first copy, checked below.)
        fetches = defaultdict(list)
        for s in farm.servers:
            for r in page_requests(s.requests):
                fetches[s.url(r.target)].append(r)
        again = {u: sorted(rs, key=lambda r: r.time)
                 for u, rs in fetches.items() if len(rs) > 1}
        losses = 1 + sum(len(re.findall(r"cluster: lost \d+ partition",
                                        nodes[n].log())) for n in names)
        assert len(again) <= losses * WINDOW, \
            (f"{len(again)} URLs fetched again, more than cluster.window "
             f"({WINDOW}) for each of {losses} losses of partitions; times "
             f"from the sluiced kill, nats-server killed at "
             f"{t_nats - t_kill:+.2f}s; some: " + str(
                 {u: [(fetcher(r), round(r.time - t_kill, 2)) for r in rs]
                  for u, rs in list(again.items())[:15]}))
        late = max((round(rs[-2].time - t_kill, 1)
                    for rs in again.values()), default=None)
        # Nothing was fetched by the dead node after its death.
        assert not [r for r in reqs if fetcher(r) == victim and
                    r.time > t_kill + 0.05]
        after = [r for r in reqs if fetcher(r) in live and r.time > t_kill]
        assert after, "nothing fetched after the kill"

        # Restart the nats-server, then the killed sluiced: it rejoins,
        # takes partitions back and fetches nothing again.
        nc.restart(k)
        before = dict(farm.hits())
        t_restart = time.monotonic()
        nodes[victim].start()
        wait_connected(nodes[victim])
        every = list(nodes.values())

        # (`sluicectl nodes` itself: test_cluster_commands.)
        def rejoined():
            r = req(nodes[live[0]], {"cmd": "nodes"})
            assert r.get("ok") is True, r
            listed = {x["node"]: x for x in r["nodes"]}
            if set(listed) != set(names) or not listed[victim]["partitions"]:
                return None
            return listed
        listed = wait_until(rejoined, 3 * LEASE_TTL + 15, 0.25,
                            f"{victim} listed by nodes with partitions")
        wait_partitions(every, partitions)
        # Long enough for anything the restarted node still held to be
        # redelivered or refetched, were it to be.
        time.sleep(max(LEASE_TTL, ACK_WAIT) + 1)
        wait_until(lambda: all(not cstatus(d).get("held") and
                               not cstatus(d).get("lag") for d in every),
                   20, 0.25, "nothing held after the rejoin")
        grown = {u: (before.get(u), n) for u, n in farm.hits().items()
                 if n != before.get(u)}
        assert not grown, (
            f"fetched again after {victim} restarted (before, after): "
            f"{grown}; by: " + str(sorted(
                (fetcher(r), r.path, r.port, round(r.time - t_restart, 2))
                for r in page_requests(farm.requests)
                if r.time > t_restart)[:30]))
        bad = politeness_violations(farm.requests, HOST_DELAY, t0=t_kill)
        assert not bad, "\n".join(bad[:20])

        # One first copy per page across the cluster, from the nodes'
        # own stores.
        wait_until(lambda: len({cstatus(d).get("keys_applied")
                                for d in every}) == 1, 20, 0.2,
                   "the same keys_applied on every node")
        docs = [nd for n in names for nd in local_docs(nodes[n], n)]
        stored = {d["url"] for _, d in docs}
        assert stored == set(urls), set(urls) ^ stored
        problems = check_one_first_copy(docs, distinct, pairs)
        assert not problems, "\n".join(problems[:20])

        # SLUICE_DOCS, read from every node, holds every stored document
        # once, with its node; the same stream whichever node reads it.
        keys = {(n, d["id"]) for n, d in docs}
        firsts = {(n, d["id"]) for n, d in docs if first_ref(n, d) is None}
        seen = None
        for n in names:
            lines, final = export_lines(nodes[n], "--cluster")
            got = [line_doc(ln) for ln in lines]
            ids = [(m, d["id"]) for m, d in got]
            assert len(ids) == len(set(ids)), f"{n}: repeated documents"
            assert firsts <= set(ids) <= keys, \
                (n, firsts - set(ids), set(ids) - keys)
            urlmap = {(m, d["id"]): d["url"] for m, d in got}
            for m, d in docs:
                if (m, d["id"]) in urlmap:
                    assert urlmap[(m, d["id"])] == d["url"], (m, d["id"])
            if seen is not None:
                assert ids == seen, f"{n} reads SLUICE_DOCS differently"
            seen = ids
        print(f"  kill -9 {victim} at +0, nats {nc[k].name} at "
              f"+{t_nats - t_kill:.1f}s, all done at +{t_done - t_kill:.1f}s;"
              f" {len(again)} URLs fetched again after {losses} losses "
              f"(the last at +{late}s); {victim} rejoined with "
              f"partitions {listed[victim]['partitions']}")
        for d in nodes.values():
            stop_clean(d)
    nc.stop()


def test_cluster_node_without_nats(tmp):
    """A node whose NATS servers all die keeps its socket
    answering: status says connected false, submit gets
    cluster_unavailable, and it stops fetching once its leases are lost
    (within lease_ttl).  When NATS is back it reconnects, finishes the
    work and takes submissions again."""
    nc = start_nats(tmp)
    with ExitStack() as stack:
        web = stack.enter_context(FixtureServer())
        d = node(tmp, nc, "n1", cluster__partitions=4,
                 fetch__host_delay="500ms")
        d.start()
        wait_connected(d)
        wait_partitions([d], 4)
        urls = [web.url(f"/page/{i}") for i in range(16)]
        check_forwarded(submit_ctl(d, urls), 4)
        wait_until(lambda: len(page_requests(web.requests)) >= 2, 20, 0.05,
                   "two pages fetched")
        for i in range(len(nc)):
            nc.kill(i)
        t_down = time.monotonic()
        wait_until(lambda: cstatus(d).get("connected") is False,
                   LEASE_TTL + 5, 0.1, "status.cluster.connected false")
        t_false = time.monotonic() - t_down
        t0 = time.monotonic()
        r = req(d, {"cmd": "submit", "url": web.url("/page/99")}, 60)
        took = time.monotonic() - t0
        assert r.get("ok") is False and \
            r["error"]["code"] == "cluster_unavailable", r
        assert took < 30, f"cluster_unavailable after {took:.1f}s"
        rc = d.ctl("submit", web.url("/page/98"))
        assert ctl_error_code(rc) == "cluster_unavailable", rc
        # No new fetch once the leases are lost.
        time.sleep(LEASE_TTL + 2)
        late = [r for r in page_requests(web.requests)
                if r.time > t_down + LEASE_TTL + 0.25]
        assert not late, [(r.path, r.time - t_down) for r in late]
        assert len(page_requests(web.requests)) < len(urls), \
            "everything was fetched before NATS went down"
        assert status(d)["ok"] is True and d.running()
        # Back: reconnects, refetches nothing twice, finishes.
        nc.start()
        wait_connected(d, 30)
        wait_until(lambda: all(web.hits(f"/page/{i}") >= 1
                               for i in range(16)),
                   ACK_WAIT + 3 * LEASE_TTL + 20, 0.2,
                   "every page fetched after NATS came back")
        check_forwarded(submit_ctl(d, [web.url("/page/97")]), 4)
        wait_until(lambda: web.hits("/page/97") == 1, 20, 0.1,
                   "a page submitted after the outage fetched")
        print(f"  connected false {t_false:.1f}s "
              f"into the outage; cluster_unavailable in {took:.2f}s")
        stop_clean(d)
    nc.stop()


def redirect_pair(tmp, nc, stack, n1_sets, n2_sets):
    """Nodes n1 and n2 (4 partitions) started on nc, and fixture servers
    b, whose host is in n1's partitions, and a, in n2's, found by
    submitting /page/1 of 12 ports (fetched, harmless).  Returns
    (n1, n2, a, b)."""
    farm = Farm(stack, 12)
    n1 = node(tmp, nc, "n1", cluster__partitions=4, **n1_sets)
    n2 = node(tmp, nc, "n2", cluster__partitions=4, **n2_sets)
    for d in (n1, n2):
        d.start()
        wait_connected(d)
    # Balanced: a partition released to rebalance later would take its
    # hosts to the other node, legitimately.
    owned = wait_partitions([n1, n2], 4, balanced=True)
    owner_of = {p: name for name, ps in owned.items() for p in ps}
    probes = [s.url("/page/1") for s in farm.servers]
    parts = check_forwarded(submit_ctl(n1, probes), 4)
    by_owner = defaultdict(list)
    for s, u in zip(farm.servers, probes):
        by_owner[owner_of[parts[u]]].append(s)
    assert by_owner["n1"] and by_owner["n2"], \
        f"12 ports all in one node's partitions: {dict(owned)}"
    return n1, n2, by_owner["n2"][0], by_owner["n1"][0]


def redirect_to(server, target):
    """A URL of server that redirects to target."""
    return server.url("/redirect-to?url=" + urllib.parse.quote(target,
                                                               safe=""))


def test_cluster_redirect_goes_to_target_owner(tmp):
    """A redirect to a host of another node's partition is handed to that
    node: only a host's owner ever requests it, so politeness holds on a
    host that both direct submissions and redirects from other partitions
    reach.  The handed job keeps its URL: the document says the submitted
    URL and the final one, as on a standalone daemon."""
    nc = start_nats(tmp)
    with ExitStack() as stack:
        msock = tmp / "n2-metrics.sock"
        n1, n2, a, b = redirect_pair(tmp, nc, stack, {},
                                     {"metrics__listen": str(msock)})
        direct = [b.url(f"/page/{2000 + k}") for k in range(10)]
        targets = [b.url(f"/page/{3000 + k}") for k in range(10)]
        redirs = [redirect_to(a, t) for t in targets]
        # As canonicalized: the documents' "url".
        redirs = list(check_forwarded(submit_ctl(n2, redirs), 4))
        direct = list(check_forwarded(submit_ctl(n1, direct), 4))

        def stored():
            docs = {(name, doc["url"]): doc for d, name in
                    ((n1, "n1"), (n2, "n2")) for _, doc in local_docs(d, name)}
            urls = {u for _, u in docs}
            return docs if all(u in urls for u in direct + redirs) \
                else None
        docs = wait_until(stored, 60, 0.3, "every page stored")
        reqs = b.requests
        strangers = {fetcher(r) for r in reqs} - {"n1"}
        assert not strangers, \
            f"port {b.port}, n1's, was also fetched by {strangers}"
        assert all(("n1", u) in docs for u in redirs), \
            f"redirected pages stored by n2: {sorted(docs)}"
        docs = {u: doc for (_, u), doc in docs.items()}
        bad = politeness_violations(reqs, HOST_DELAY)
        assert not bad, "\n".join(bad[:20])
        for u, t in zip(redirs, targets):
            assert docs[u]["final_url"] == t, docs[u]
            assert b.hits(t.split(str(b.port), 1)[1]) == 1, t
        assert sum(r.path == "/redirect-to" for r in a.requests) == \
            len(redirs), [r.target for r in a.requests]
        c2 = cstatus(n2)
        assert c2.get("redirects_handed") == len(redirs), c2
        assert status(n2)["jobs"]["cancelled"] == len(redirs), \
            status(n2)["jobs"]
        # The metrics say so too, and sluiced(8) names every cluster
        # metric served.
        samples, text = scrape(msock)
        assert samples[("sluice_cluster_redirects_handed_total", "")] == \
            len(redirs), text
        assert samples[("sluice_cluster_connected", "")] == 1, text
        man = (source_dir() / "docs/man/sluiced.8").read_text()
        served = set(re.findall(r"^# TYPE (sluice_cluster_\w+)", text, re.M))
        assert len(served) >= 6 and all(n in man for n in served), \
            sorted(n for n in served if n not in man)
        print(f"  n1 owns port {b.port}, n2 port {a.port}; "
              f"{len(reqs)} requests to n1's, all by n1")
        for d in (n1, n2):
            stop_clean(d)
    nc.stop()


def test_cluster_redirect_outlives_target_owner(tmp):
    """The node a redirect was handed to dies (kill -9) before fetching
    it: the handed messages come back to the next owner of the target's
    partition, here the node that handed them over and cancelled their
    jobs, which takes them up at the hop.  Every redirected URL ends with
    one document whose "url" is the one submitted."""
    nc = start_nats(tmp)
    with ExitStack() as stack:
        # A slow target: the owner holds the handed jobs a while.
        slow = {"fetch__host_delay": "600ms"}
        n1, n2, a, b = redirect_pair(tmp, nc, stack, slow, slow)
        targets = [b.url(f"/page/{4000 + k}") for k in range(12)]
        redirs = list(check_forwarded(submit_ctl(n2, [
            redirect_to(a, t) for t in targets]), 4))
        wait_until(lambda: any(r.path.startswith("/page/4")
                               for r in b.requests), 20, 0.02,
                   "n1 fetching what it was handed")
        n1.kill()
        t_kill = time.monotonic()
        wait_partitions([n2], 4, timeout=LEASE_TTL * 4 + 10)

        def stored():
            docs = {doc["url"]: doc for _, doc in local_docs(n2, "n2")}
            return docs if all(u in docs for u in redirs) else None
        fetched_n1 = {r.path for r in page_requests(b.requests)
                      if fetcher(r) == "n1"}
        assert len(fetched_n1) < len(targets), \
            "n1 fetched every target before its kill"
        docs = wait_until(stored, ACK_WAIT + 4 * LEASE_TTL + 30, 0.3,
                          "n2 storing the redirected pages n1 left")
        # Those it handed over before n2 had n1's partition too.
        assert cstatus(n2).get("redirects_handed", 0) >= 1, cstatus(n2)
        n1.start()
        wait_connected(n1)
        for _, doc in local_docs(n1, "n1"):
            docs.setdefault(doc["url"], doc)
        for u, t in zip(redirs, targets):
            assert docs[u]["final_url"] == t, docs[u]
        late = [r for r in b.requests if fetcher(r) == "n1" and
                r.time > t_kill]
        assert not late, [(r.path, r.time - t_kill) for r in late]
        bad = politeness_violations(b.requests, 0.6)
        assert not bad, "\n".join(bad[:20])
        print(f"  n1 fetched {len(fetched_n1)} of {len(targets)} before "
              f"its kill; n2 the rest")
        for d in (n1, n2):
            stop_clean(d)
    nc.stop()


def test_cluster_redirect_followed_here_moves_with_its_target(tmp):
    """A redirect to a host of the node's own partition is followed there;
    when that partition is to pass to a new node (rebalancing), the node
    starts no new request to its hosts, those jobs included, and hands
    the jobs at that hop over to the new owner instead of fetching them
    beside it.  The host sees no overlap and its delay throughout."""
    nc = start_nats(tmp)
    with ExitStack() as stack:
        farm = Farm(stack, 12)
        slow = {"fetch__host_delay": "600ms"}
        n1 = node(tmp, nc, "n1", cluster__partitions=4, **slow)
        n1.start()
        wait_connected(n1)
        wait_partitions([n1], 4)
        probes = [srv.url("/page/1") for srv in farm.servers]
        parts = check_forwarded(submit_ctl(n1, probes), 4)
        # n1 keeps partitions 0 and 1 when n2 comes (it releases the
        # highest first): a redirects from one of those to b, in 2 or 3.
        low = [srv for srv, u in zip(farm.servers, probes)
               if parts[u] < 2]
        high = [srv for srv, u in zip(farm.servers, probes)
                if parts[u] >= 2]
        assert low and high, f"12 ports all on one side: {parts}"
        a, b = low[0], high[0]
        bpart = parts[b.url("/page/1")]
        # Slow targets: jobs at the hop pile up on n1 (a redirects every
        # 0.6 s, b answers one request in 2 s).
        targets = [b.url(f"/slow-headers?delay_ms=2000&n={k}")
                   for k in range(10)]
        redirs = list(check_forwarded(submit_ctl(n1, [
            redirect_to(a, t) for t in targets]), 4))
        wait_until(lambda: len(page_requests(b.requests)) >= 3, 30, 0.05,
                   "n1 fetching the redirect targets")
        n2 = node(tmp, nc, "n2", cluster__partitions=4, **slow)
        n2.start()
        # When n1 stops using b's partition (it drains it for n2).
        t_drain = wait_until(
            lambda: time.monotonic() if bpart not in
            (cstatus(n1).get("partitions") or []) else None,
            LEASE_TTL * 4 + 10, 0.05, f"n1 giving up partition {bpart}")
        wait_partitions([n1, n2], 4, balanced=True,
                        timeout=LEASE_TTL * 4 + 10)
        # Direct submissions for b now go to n2.
        direct = [b.url(f"/page/{6000 + k}") for k in range(3)]
        check_forwarded(submit_ctl(n2, direct), 4)

        def stored():
            docs = {}
            for d, name in ((n1, "n1"), (n2, "n2")):
                for _, doc in local_docs(d, name):
                    docs.setdefault(doc["url"], doc)
            return docs if all(u in docs for u in redirs + direct) \
                else None
        docs = wait_until(stored, 90, 0.3, "every page stored")
        for u, t in zip(redirs, targets):
            assert docs[u]["final_url"] == t, docs[u]
        reqs = sorted(page_requests(b.requests), key=lambda r: r.time)
        late = [round(r.time - t_drain, 2) for r in reqs
                if fetcher(r) == "n1" and r.time > t_drain + 0.3]
        assert not late, f"n1 requested b {late} s after it began to " \
            "give b's partition up"
        who = [fetcher(r) for r in reqs]
        assert "n2" in who and "n1" not in who[who.index("n2"):], who
        bad = politeness_violations(b.requests, 0.6)
        assert not bad, "\n".join(bad[:20])
        handed = cstatus(n1).get("redirects_handed", 0)
        assert handed >= 1, cstatus(n1)
        print(f"  b in partition {bpart}: n1 fetched {who.count('n1') - 1} "
              f"targets and handed {handed} over; n2 fetched the rest")
        for d in (n1, n2):
            stop_clean(d)
    nc.stop()


def test_cluster_refuses_other_layout(tmp):
    """SLUICE_FETCH records the partition count it was made
    with; a node configured with another count, or finding a stream made
    by another version, exits non-zero naming SLUICE_FETCH.  One made by
    the version before (v1: a URL a message) is read, and described v2
    from then on, so that nodes of that version refuse it."""
    nc = start_nats(tmp)
    a = node(tmp, nc, "n1", cluster__partitions=8)
    a.start()
    wait_connected(a)
    info = nc.js("STREAM.INFO.SLUICE_FETCH")
    assert "error" not in info, info
    desc = info["config"].get("description", "")
    assert desc.startswith("sluice cluster v2;") and "partitions=8" in desc, \
        desc
    # The partition of 127.0.0.1:9 (nothing listens: the job fails).
    (part,) = check_forwarded(submit_ctl(a, ["http://127.0.0.1:9/probe"]),
                              8).values()
    stop_clean(a)

    def refused(d, *words):
        d.start(wait_ready=False)
        try:
            code = d.proc.wait(30)
        except Exception:
            d.kill()
            raise HarnessError(f"{d.dir.name} kept running:\n{d.log_tail()}")
        assert code != 0, d.log_tail()
        log = d.log()
        for w in ("SLUICE_FETCH",) + words:
            assert w in log, f"{w!r} not in the log:\n{d.log_tail()}"
        assert not d.sanitizer_errors(), d.log_tail()
        return log

    refused(node(tmp, nc, "n2", cluster__partitions=16), "partitions")

    def fetch_stream_as(description):
        """SLUICE_FETCH made anew, described as another version would."""
        r = nc.js("STREAM.DELETE.SLUICE_FETCH")
        assert r.get("success") is True, r
        r = nc.js("STREAM.CREATE.SLUICE_FETCH", {
            "name": "SLUICE_FETCH", "subjects": ["sluice.fetch.>"],
            "retention": "workqueue", "storage": "file", "num_replicas": 3,
            "description": description})
        assert "error" not in r, r

    # A stream made by another version: its description differs.
    fetch_stream_as("sluice cluster v0; partitions=8")
    refused(node(tmp, nc, "n3", cluster__partitions=8))

    # The version before: its stream and a message as it wrote them.
    fetch_stream_as("sluice cluster v1; partitions=8")
    body = json.dumps({"url": "http://127.0.0.1:9/v1", "priority": 0,
                       "not_before": 0, "force": False, "from": "old"})
    ack = json.loads(nats_request(nc.live()[0].port,
                                  f"sluice.fetch.p{part}.{'0' * 16}",
                                  body.encode()))
    assert ack.get("stream") == "SLUICE_FETCH", ack
    d = node(tmp, nc, "n4", cluster__partitions=8)
    d.start()
    wait_connected(d)
    wait_until(lambda: sum(status(d)["jobs"].values()) == 1, 30, 0.2,
               "the v1 message's URL queued on n4")
    desc = nc.js("STREAM.INFO.SLUICE_FETCH")["config"].get("description")
    assert desc == "sluice cluster v2; partitions=8", desc
    assert "now \"sluice cluster v2; partitions=8\"" in d.log(), d.log_tail()
    stop_clean(d)
    nc.stop()


def keys_v1_line(node, doc, url):
    """A SLUICE_KEYS entry, v1: the JSON line earlier versions wrote."""
    return json.dumps({"node": node, "doc": doc, "url": url,
                       "exact": "ab" * 16, "words": 3, "near": False,
                       "bands": [0] * 14,
                       "sketch": base64.b64encode(bytes(992)).decode()},
                      separators=(",", ":"))


def outbox_put(d, doc, value):
    """Writes the outbox entry doc -> value into a stopped node's LMDB,
    with mdb_load (lmdb-utils), as an earlier version left it."""
    def printable(b):
        return "".join(chr(c) if 0x20 <= c < 0x7f and c != 0x5c else
                       "\\\\" if c == 0x5c else "\\%02x" % c for c in b)
    env = str(d.dir / "state")
    dump = subprocess.run(["mdb_dump", "-p", "-s", "cluster_outbox", env],
                          capture_output=True, text=True, check=True).stdout
    head = dump[:dump.index("HEADER=END\n") + len("HEADER=END\n")]
    subprocess.run(["mdb_load", "-s", "cluster_outbox", env], text=True,
                   input=head + " " + printable(struct.pack("<Q", doc))
                   + "\n " + printable(value) + "\nDATA=END\n",
                   capture_output=True, check=True)


def keys_v2_entry(node, doc, url, words):
    """A SLUICE_KEYS entry, v2 (daemon/cluster_index.h), length first."""
    e = (bytes([len(node)]) + node.encode() + struct.pack(">Q", doc)
         + bytes(range(16)) + struct.pack(">I", words) + b"\x01"
         + struct.pack(">14I", *range(1, 15)) + bytes(992)
         + struct.pack(">I", len(url)) + url.encode())
    return struct.pack(">I", len(e)) + e


def check_keys_formats(nc, nodes):
    """SLUICE_KEYS bodies of another node (one that never ran): a v1 JSON
    line as an earlier version published it, a v2 body of two entries, and
    a v2 body whose second frame runs past its end.  Every node applies
    each good entry once, and skips the rest."""
    def applied():
        return [cstatus(d)["keys_applied"] for d in nodes]

    def settled():
        a = applied()
        time.sleep(0.5)
        return a if a == applied() and len(set(a)) == 1 else None

    before = wait_until(settled, 20, 0.1,
                        "keys_applied the same on every node")
    v1 = keys_v1_line("zz", 1, "http://127.0.0.1:9/1") + "\n"
    v2 = (b"SK2\n" + keys_v2_entry("zz", 2, "http://127.0.0.1:9/2", 4)
          + keys_v2_entry("zz", 3, "http://127.0.0.1:9/3", 5))
    cut = b"SK2\n" + keys_v2_entry("zz", 4, "http://127.0.0.1:9/4", 6) + \
        keys_v2_entry("zz", 5, "http://127.0.0.1:9/5", 7)[:-1]
    port = nc.live()[0].port
    for body in (v1.encode(), v2, cut):
        ack = json.loads(nats_request(port, "sluice.keys.zz", body))
        assert ack.get("stream") == "SLUICE_KEYS", ack
    want = [b + 4 for b in before]
    wait_until(lambda: applied() == want, 20, 0.1,
               f"4 entries applied on every node ({before} before)")


def test_cluster_batches_only_when_every_node_reads_them(tmp):
    """A submit's URLs of one partition share a message only while every
    live node's heartbeat says it reads such messages ("frontier": 2):
    with a node of the earlier version live, which would drop them as
    malformed, each URL goes alone."""
    nc = start_nats(tmp)
    d = node(tmp, nc, "n1", cluster__partitions=4)
    d.start()
    wait_connected(d)
    wait_partitions([d], 4)

    def submit_ten(tag):
        before = cstatus(d)
        urls = [f"http://127.0.0.1:9/{tag}/{k}" for k in range(10)]
        check_forwarded(submit_ctl(d, urls), 4)
        after = cstatus(d)
        return (after["forwarded_urls"] - before["forwarded_urls"],
                after["forwarded_messages"] - before["forwarded_messages"])

    assert submit_ten("a") == (10, 1)
    # A heartbeat as the version before wrote it: no "frontier".
    old = json.dumps({"node": "old", "partitions": [], "held": 0, "lag": 0,
                      "time": int(time.time() * 1000), "status": {}})
    ack = json.loads(nats_request(nc.live()[0].port,
                                  "$KV.sluice_cluster.node.old",
                                  old.encode()))
    assert ack.get("stream") == "KV_sluice_cluster", ack
    wait_until(lambda: any(n.get("node") == "old" for n in
                           req(d, {"cmd": "nodes"}).get("nodes", [])),
               10, 0.2, "the old node's heartbeat seen")
    time.sleep(LEASE_TTL / 3 + 0.5)	# a tick after it was seen
    assert submit_ten("b") == (10, 10)
    # Gone once its key expires (lease_ttl): batches again.
    wait_until(lambda: submit_ten("c")[1] == 1, 3 * LEASE_TTL, 0.5,
               "messages of several URLs again once the old node left")
    stop_clean(d)
    nc.stop()


def test_cluster_commands(tmp):
    """The JetStream objects are as the
    design makes them; `status --cluster`, `nodes` and `export --cluster
    [--since]` parse and answer as it says; feed add is unsupported on a
    cluster node."""
    partitions = 8
    nc = start_nats(tmp)
    with ExitStack() as stack:
        farm = Farm(stack, 2)
        n1 = node(tmp, nc, "n1", cluster__partitions=partitions)
        n2 = node(tmp, nc, "n2", cluster__partitions=partitions)
        n1.start()
        n2.start()
        for d in (n1, n2):
            c = wait_connected(d)
            assert c["node"] == d.dir.name, c
            assert c["nats_url"] in nc.urls.split(","), c
        wait_partitions([n1, n2], partitions)

        # The streams, consumers and bucket of the design.
        for name, subj, v in (("SLUICE_FETCH", "sluice.fetch.>", "v2;"),
                              ("SLUICE_DOCS", "sluice.docs.>", "v1"),
                              ("SLUICE_KEYS", "sluice.keys.>", "v1")):
            cfg = nc.js(f"STREAM.INFO.{name}").get("config")
            assert cfg, name
            assert cfg["description"].startswith("sluice cluster " + v), cfg
            assert cfg["num_replicas"] == 3, cfg
            assert any(s == subj or s.startswith(subj[:-1])
                       for s in cfg["subjects"]), cfg
        fetch = nc.js("STREAM.INFO.SLUICE_FETCH")["config"]
        assert fetch["retention"] == "workqueue", fetch
        assert fetch["description"].startswith("sluice cluster v2;") and \
            f"partitions={partitions}" in fetch["description"], fetch
        for p in range(partitions):
            ci = nc.js(f"CONSUMER.INFO.SLUICE_FETCH.p{p}")
            cfg = ci.get("config")
            assert cfg, ci
            assert cfg["filter_subject"] == f"sluice.fetch.p{p}.>", cfg
            assert cfg["ack_policy"] == "explicit", cfg
            assert cfg["ack_wait"] == int(ACK_WAIT * 1e9), cfg
            assert cfg["max_ack_pending"] == 10000, cfg
        kv = nc.js("STREAM.INFO.KV_sluice_cluster").get("config")
        assert kv and kv["max_age"] == int(LEASE_TTL * 1e9), kv

        first = [farm.servers[0].url(f"/page/{i}") for i in range(3)] + \
            [farm.servers[1].url(f"/page/{i}") for i in range(10, 12)]
        check_forwarded(submit_ctl(n1, first), partitions)
        wait_until(lambda: sum(farm.hits().values()) == len(first), 30,
                   0.1, "the first batch fetched")
        time.sleep(1.0)
        since = rfc3339_now()
        time.sleep(1.0)
        second = [farm.servers[0].url(f"/page/{i}") for i in range(5, 7)] + \
            [farm.servers[1].url(f"/page/{i}") for i in range(20, 22)]
        check_forwarded(submit_ctl(n2, second), partitions)
        wait_until(lambda: sum(farm.hits().values()) ==
                   len(first) + len(second), 30, 0.1,
                   "the second batch fetched")
        wait_until(lambda: not cstatus(n1).get("held") and
                   not cstatus(n2).get("held"), 20, 0.1, "nothing held")
        check_keys_formats(nc, (n1, n2))

        # status: the node's own view.
        c = cstatus(n1)
        for key, kind in (("node", str), ("connected", bool),
                          ("partitions", list), ("owned", int),
                          ("held", int), ("lag", int),
                          ("keys_applied", int), ("nats_url", str)):
            assert isinstance(c.get(key), kind), (key, c)
        assert c["owned"] == len(c["partitions"]), c

        # status --cluster: totals summed over the nodes' heartbeats.
        def summed():
            r = n1.ctl("status", "--cluster").check().obj
            t1, t2 = status(n1)["totals"], status(n2)["totals"]
            want = {k: t1[k] + t2[k] for k in t1
                    if isinstance(t1[k], int) and not isinstance(t1[k], bool)}
            got = r["cluster"]["totals"]
            return r if all(got.get(k) == v for k, v in want.items()) \
                else None
        r = wait_until(summed, 3 * LEASE_TTL, 0.25,
                       "status --cluster totals = the sum of the nodes'")
        assert r["ok"] is True
        cl = r["cluster"]
        assert cl["nodes"] == 2, cl
        assert cl["partitions"] == partitions and cl["owned"] == partitions, cl
        assert isinstance(cl["jobs"], dict), cl
        raw = req(n2, {"cmd": "status", "cluster": True})
        assert raw.get("ok") is True and raw["cluster"]["nodes"] == 2, raw

        # nodes: each node, its partitions, held, lag, heartbeat.
        r = n2.ctl("nodes").check().obj
        assert r["ok"] is True
        listed = {x["node"]: x for x in r["nodes"]}
        assert set(listed) == {"n1", "n2"}, r
        flat = []
        for x in listed.values():
            assert isinstance(x["held"], int) and isinstance(x["lag"], int), x
            assert isinstance(x["age_ms"], int) and \
                0 <= x["age_ms"] <= LEASE_TTL * 1000, x
            hb = x["heartbeat"]
            assert len(hb) >= 24 and hb.endswith("Z") and "." in hb, hb
            t = datetime.fromisoformat(hb.replace("Z", "+00:00"))
            assert abs(t.timestamp() - time.time()) < LEASE_TTL + 5, hb
            flat += x["partitions"]
        assert sorted(flat) == list(range(partitions)), listed
        assert sorted(listed["n1"]["partitions"]) == \
            sorted(cstatus(n1)["partitions"])

        # Not in this version on a cluster node.
        rc = n1.ctl("feed", "add", farm.servers[0].url("/feed.xml"))
        assert ctl_error_code(rc) == "unsupported", rc
        rc = n1.ctl("site", "add", farm.servers[0].url("/"))
        assert ctl_error_code(rc) == "unsupported", rc

        # export --cluster from either node: every document, with its
        # node; --since keeps the second batch only.  The protocol first,
        # then sluicectl.
        def raw_export(d, **kw):
            lines = []
            with Client(d.sock, 60) as cli:
                cli.send_raw(json.dumps(dict(cmd="export", cluster=True,
                                             **kw)).encode() + b"\n")
                while True:
                    line = cli.read_json()
                    if "ok" in line:
                        assert line["ok"] is True, line
                        return lines, line
                    lines.append(line)
        for d in (n1, n2):
            lines, final = raw_export(d)
            got = {line_doc(ln)[1]["url"] for ln in lines}
            assert got == set(first + second), got ^ set(first + second)
            assert {line_doc(ln)[0] for ln in lines} <= {"n1", "n2"}
            assert final.get("count") == len(lines), final
            assert final.get("damaged", 0) == 0, final
            lines, _ = raw_export(d, since=since)
            got = {line_doc(ln)[1]["url"] for ln in lines}
            assert got == set(second), (since, got)
        for d in (n1, n2):
            lines, final = export_lines(d, "--cluster")
            got = {line_doc(ln)[1]["url"] for ln in lines}
            assert got == set(first + second), got ^ set(first + second)
            lines, _ = export_lines(d, "--cluster", "--since", since)
            got = {line_doc(ln)[1]["url"] for ln in lines}
            assert got == set(second), (since, got)
        # Without --json, sluicectl prints one document a line.
        r = n2.ctl("export", "--cluster", "--since", since,
                   json=False).check()
        got = {json.loads(ln)["url"] for ln in r.out.splitlines()}
        assert got == set(second), r.out[:2000]

        # SLUICE_DOCS is outside input: a message whose first line is no
        # JSON object is read past that line, which the final line counts
        # as damaged; the next line of the same message still comes.
        evil = "http://127.0.0.1:9/evil"
        ack = json.loads(nats_request(
            nc[0].port, "sluice.docs.evil",
            b'not json\n[1,2]\n' + json.dumps(
                {"id": 7, "url": evil, "node": "evil"}).encode() + b"\n"))
        assert ack.get("stream") == "SLUICE_DOCS", ack
        lines, final = raw_export(n1)
        got = {line_doc(ln)[1]["url"] for ln in lines}
        assert got == set(first + second) | {evil}, got
        assert final.get("damaged") == 2 and \
            final.get("count") == len(lines), final
        assert "no JSON object" in n1.log(), \
            "the damaged line is logged"

        # Keys an earlier version left in the outbox (a v1 JSON line) go
        # out at the next start, as a v1 message of their own, and every
        # node applies them.  The document id is one n1 never used: keys
        # of a document published before would be dropped by JetStream
        # as a duplicate message id within its 2-minute window.
        stop_clean(n1)
        before = cstatus(n2)["keys_applied"]
        outbox_put(n1, 999999, b"K" + keys_v1_line(
            "n1", 999999, "http://127.0.0.1:9/outbox-v1").encode())
        n1.start()
        wait_until(lambda: cstatus(n2)["keys_applied"] == before + 1, 20,
                   0.1, "the outbox's v1 keys applied")

        # n2's store made anew under the same name, within JetStream's
        # duplicate window (2 min): its document ids start again at 1,
        # and its documents still reach SLUICE_KEYS and SLUICE_DOCS.
        stop_clean(n2)
        shutil.rmtree(n2.state_dir)
        n2.start()
        wait_connected(n2)
        wait_until(lambda: len(cstatus(n2).get("partitions") or []) ==
                   partitions // 2, 30, 0.2, "n2 back to its fair share")
        more = Farm(stack, 16)
        urls = [s.url(f"/page/{40 + i}") for i, s in
                enumerate(more.servers)]
        check_forwarded(submit_ctl(n1, urls), partitions)
        wait_until(lambda: sum(more.hits().values()) == len(urls), 30,
                   0.1, "the third batch fetched")
        mine = {s.url(r.target) for s in more.servers
                for r in page_requests(s.requests) if fetcher(r) == "n2"}
        assert mine, "n2 fetched none of 16 hosts, holding half the " \
            "partitions"
        def stored():
            ids = {d["url"]: d["id"] for _, d in local_docs(n2, "n2")}
            return ids if mine <= set(ids) else None
        ids = wait_until(stored, 20, 0.2, "n2's pages stored")
        assert min(ids.values()) == 1, ids

        def published():
            lines, _ = raw_export(n1)
            got = {line_doc(ln)[1]["url"]: ln for ln in lines
                   if line_doc(ln)[0] == "n2"}
            return got if set(mine) <= set(got) else None
        got = wait_until(published, 20, 0.25,
                         "n2's new documents in SLUICE_DOCS")
        for u in mine:
            v = line_doc(got[u])[1].get("cluster")
            assert v and v.get("first") is True, (u, got[u])

        for d in (n1, n2):
            stop_clean(d)
    nc.stop()


if __name__ == "__main__":
    run_tests(globals())
