"""
itlib.py - what the sluiced integration tests (test_protocol, test_fetching,
test_durability, test_service) share on top of harness.py: raw-socket
request helpers, reply checks and job/document listings.

Importing it makes a missing sluiced a failure, not a skip: these tests are
the proof that the daemon works, so "not built" must not pass quietly.
"""

import json
import os
import re
import subprocess
import time
from datetime import datetime, timezone

os.environ.setdefault("SLUICE_REQUIRE_BINARIES", "1")

from harness import (Client, HarnessError, binary,  # noqa: E402
                     source_dir, wait_until)

# Short delays so retries, backoffs and timeouts fit in a test run.  Tests
# add or override keys where the behaviour under test needs other values.
# Politeness is relaxed for the one fixture host (tests about politeness
# set it back); robots.txt stays on, and the fixture allows everything.
FAST = {
    "queue.retry_base": "200ms",
    "fetch.host_backoff_min": "200ms",
    "fetch.host_delay": "0",
    "fetch.max_per_host": 16,
    "fetch.timeout": "3s",
    "fetch.connect_timeout": "2s",
}

ERROR_CODES = {"bad_request", "too_large", "unknown_command", "not_found",
               "conflict", "store_full", "disk_full", "damaged", "busy",
               "shutting_down", "timeout",
               "internal"}
JOB_STATES = ("queued", "active", "done", "failed", "cancelled")
FINAL_STATES = ("done", "failed", "cancelled")
DOC_FIELDS = {"id", "url", "final_url", "http_status", "content_type",
              "fetched_at", "title", "text", "language", "author", "date",
              "sitename", "description", "canonical_url", "word_count", "empty",
              "charset", "content_hash", "duplicate_of", "duplicate_kind",
              "similarity", "etag", "last_modified", "date_raw", "image",
              "pagetype", "license", "authors", "categories", "tags",
              "warc_record_id"}
JOB_FIELDS = {"id", "url", "state", "priority", "attempts", "http_status",
              "error", "created_at", "updated_at", "not_before",
              "finished_at", "doc_id"}
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?"
                      r"(Z|[+-]\d\d:\d\d)$")


def ok(reply, what="request"):
    """Asserts reply is a success; returns it."""
    assert isinstance(reply, dict) and reply.get("ok") is True, \
        f"{what}: expected ok, got {reply}"
    return reply


def is_error(reply, code, what="request"):
    """Asserts reply is exactly {"ok":false,"error":{"code","message"}}
    (plus an optional "tag") with the given code; returns the message."""
    assert isinstance(reply, dict) and reply.get("ok") is False, \
        f"{what}: expected error {code}, got {reply}"
    assert set(reply) <= {"ok", "error", "tag"}, f"{what}: extra keys {reply}"
    err = reply.get("error")
    assert isinstance(err, dict) and set(err) == {"code", "message"}, \
        f"{what}: malformed error {reply}"
    assert err["code"] in ERROR_CODES, f"{what}: undocumented code {reply}"
    assert err["code"] == code, f"{what}: expected {code}, got {reply}"
    assert isinstance(err["message"], str) and err["message"], \
        f"{what}: empty message {reply}"
    return err["message"]


def parse_time(s):
    """RFC 3339 string -> epoch seconds (float)."""
    assert isinstance(s, str) and _RFC3339.match(s), f"not RFC 3339: {s!r}"
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def rfc3339(epoch):
    """Epoch seconds -> RFC 3339 with milliseconds, UTC."""
    dt = datetime.fromtimestamp(epoch, timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def req(d, obj, timeout=30.0):
    """One request on a fresh connection to daemon d; the parsed reply."""
    with Client(d.sock, timeout) as c:
        return c.request(obj)


def submit(d, urls, **kw):
    """Submits urls (a list, or one string sent as "url"); asserts ok and
    one result per URL; returns the reply."""
    obj = {"cmd": "submit"}
    if isinstance(urls, str):
        obj["url"] = urls
        n = 1
    else:
        obj["urls"] = list(urls)
        n = len(urls)
    obj.update(kw)
    r = ok(req(d, obj), "submit")
    assert len(r["results"]) == n, r
    return r


def submit_ids(d, urls, **kw):
    """Submits and returns the job ids (asserting none was rejected)."""
    r = submit(d, urls, **kw)
    ids = []
    for res in r["results"]:
        assert res["status"] in ("queued", "duplicate"), res
        ids.append(res["id"])
    return ids


def job(d, jid):
    return ok(req(d, {"cmd": "job", "id": jid}), f"job {jid}")["job"]


def doc(d, jid=None, url=None):
    obj = {"cmd": "doc"}
    if url is not None:
        obj["url"] = url
    else:
        obj["id"] = jid
    return ok(req(d, obj), f"doc {jid or url}")["doc"]


def fetch_one(d, url, **kw):
    """Submits url, waits until its job is done; returns (id, document)."""
    [jid] = submit_ids(d, [url], **kw)
    j = wait_job(d, jid)
    assert j["state"] == "done", j
    return jid, doc(d, jid)


def status(d):
    return ok(req(d, {"cmd": "status"}), "status")


def wait_job(d, jid, states=FINAL_STATES, timeout=20.0):
    """Polls job jid until its state is in states; returns the job."""
    if isinstance(states, str):
        states = (states,)
    last = {}

    def check():
        last["job"] = job(d, jid)
        return last["job"] if last["job"]["state"] in states else None
    try:
        return wait_until(check, timeout, 0.05, f"job {jid} in {states}")
    except HarnessError as e:
        raise HarnessError(f"{e}; last seen: {last.get('job')}") from None


def wait_jobs(d, ids, states=FINAL_STATES, timeout=20.0):
    deadline = time.monotonic() + timeout
    return [wait_job(d, i, states, max(0.1, deadline - time.monotonic()))
            for i in ids]


def wait_idle(d, timeout=30):
    """{"cmd":"wait"}: asserts every job finished within timeout s."""
    r = req(d, {"cmd": "wait", "timeout": timeout}, timeout + 30)
    assert r.get("ok") is True, f"wait: jobs still queued/active: {r}"
    assert r == {"ok": True, "queued": 0, "active": 0}, r
    return r


def all_jobs(d, state=None, limit=1000):
    """Every job (of state), paging with after/next; checks the paging."""
    out, after = [], 0
    with Client(d.sock, 60) as c:
        while True:
            obj = {"cmd": "jobs", "limit": limit, "after": after}
            if state:
                obj["state"] = state
            r = ok(c.request(obj), "jobs")
            out += r["jobs"]
            assert len(r["jobs"]) <= limit, "jobs returned over limit"
            if r["next"] is None:
                break
            assert r["jobs"] and r["next"] == r["jobs"][-1]["id"], r["next"]
            after = r["next"]
    ids = [j["id"] for j in out]
    assert ids == sorted(ids) and len(set(ids)) == len(ids), \
        "jobs listing not in id order or repeats ids"
    return out


def export(d, timeout=120.0, **kw):
    """{"cmd":"export", **kw}: returns (docs, final line)."""
    docs = []
    with Client(d.sock, timeout, max_line=64 << 20) as c:
        c.send_raw(json.dumps(dict(cmd="export", **kw)).encode() + b"\n")
        while True:
            line = c.read_json()
            if "ok" in line:
                return docs, line
            assert set(line) <= {"doc", "tag"}, f"export data line {line}"
            docs.append(line["doc"])


def counts(d):
    """status.jobs, status.totals: the queue's visible state."""
    s = status(d)
    return s["jobs"], s["totals"]


def wait_reclean(d, timeout=30):
    """The status's reclean object once no pass is running."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        st = d.ctl("status").check().obj["reclean"]
        if not st["running"]:
            return st
        time.sleep(0.1)
    raise AssertionError(f"reclean still running: {st}")


def ctl_bytes(d, *args):
    """sluicectl's exit status, stdout as bytes, and stderr."""
    p = subprocess.run([str(binary("sluicectl")), "-s", str(d.sock)] +
                       [str(a) for a in args], capture_output=True,
                       timeout=60)
    return p.returncode, p.stdout, p.stderr.decode()


def check_store(d, *extra):
    """sluiced --check on d's store (d stopped): (exit code, output)."""
    argv = [str(binary("sluiced")), "-c", str(source_dir() /
            "conf/sluiced.conf"), "--check"] + list(extra)
    for k, v in d.sets.items():
        argv += ["--set", f"{k}={v}"]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr
