#!/usr/bin/env python3
"""Scale on paper: the loads of a sluice cluster of N nodes (docs/cluster.md).

    bench/cluster/paper.py [--nodes 10,100] [--rate 1000] [--url-bytes 70]
                           [--doc-bytes 7300] [--partitions P] [--lease-ttl 15]

Prints, for each N, the messages and bytes per second on each stream, the
KV's writes, the in-memory duplicate index per node and the JetStream
storage written per day.  Every size is worked out from the message
formats of docs/cluster.md; nothing is measured here.  Python 3 std lib.
"""
import argparse
import json

# nats-server's file store: a record is a 22-byte header, the subject,
# the headers, the payload and an 8-byte hash (server/filestore.go:
# msgHdrSize, checksumSize).
REC = 22 + 8
SIG = 1072          # sizeof(struct dedup_sig), daemon/dedup.h
LSH = (160, 240)    # in-memory keys per document, daemon/lsh.h
DAY = 86400


def fetch_msg(url, node):
    body = json.dumps({"url": url, "priority": 0,
                       "not_before": 1796000000000, "force": False,
                       "from": node}, separators=(",", ":"))
    hdr = "NATS/1.0\r\nNats-Msg-Id: %s-1796000000000-1234567890\r\n\r\n" % node
    subj = "sluice.fetch.p12.0123456789abcdef"
    return len(body), len(hdr), len(subj)


# A SLUICE_KEYS entry, v2 (daemon/cluster_index.h): its 32-bit length,
# then the node name's length and bytes, the doc id (8), the exact hash
# (16), words (4), near (1), 14 bands (4 each), the 992-byte sketch, the
# URL's 32-bit length and bytes.  A message starts with "SK2\n".
KEYS_HEAD = len("SK2\n")


def keys_entry(url, node):
    return 4 + 1 + len(node) + 8 + 16 + 4 + 1 + 14 * 4 + 992 + 4 + len(url)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", default="10,100")
    ap.add_argument("--rate", type=float, default=1000,
                    help="pages/s each node stores")
    ap.add_argument("--url-bytes", type=int, default=70)
    ap.add_argument("--doc-bytes", type=int, default=7300,
                    help="an export line (mean of the extract-dev corpus)")
    ap.add_argument("--partitions", type=int, default=0,
                    help="P (default: 64, or past 64 nodes the largest multiple of N <= 1024)")
    ap.add_argument("--lease-ttl", type=float, default=15)
    ap.add_argument("--replicas", type=int, default=3)
    ap.add_argument("--flush-ms", type=float, default=100,
                    help="keys and lines gathered this long per message "
                    "(CL_FLUSH_MS)")
    ap.add_argument("--max-payload", type=int, default=1 << 20,
                    help="the servers' max_payload")
    a = ap.parse_args()
    node = "n01"
    url = "https://www.example.com/" + "a" * (a.url_bytes - 24)
    fb = sum(fetch_msg(url, node)) + REC
    # Keys are framed entries after a 4-byte head, lines one per line
    # ("\n" after each); a message per node per flush, split when it
    # would pass max_payload (less 1 KiB).
    kline = keys_entry(url, node)
    dline = a.doc_bytes + len(',"node":"n01"') + 1
    per_flush = a.rate * a.flush_ms / 1000
    room = a.max_payload - 1024

    def batched(line, subj, head=0):
        """(messages/s a node sends, bytes a document in the store)"""
        msgs = max(1, -(-per_flush * line // room)) * (1000 / a.flush_ms)
        msgs = min(msgs, a.rate)
        return msgs, line + (len(subj) + REC + head) * msgs / a.rate

    kmsgs, kb = batched(kline, "sluice.keys." + node, KEYS_HEAD)
    dmsgs, db = batched(dline, "sluice.docs." + node)
    print(f"record sizes in the file store: SLUICE_FETCH {fb:.0f} B; "
          f"a document's share of SLUICE_KEYS {kb:.0f} B (entry "
          f"{kline:.0f}), of SLUICE_DOCS {db:.0f} B; per node "
          f"{kmsgs:,.0f} keys and {dmsgs:,.0f} docs messages/s")
    for n in (int(x) for x in a.nodes.split(",")):
        # The default 64 while it is enough; past it, the largest multiple
        # of N that cluster.partitions allows (1024).
        p = a.partitions or (64 if n <= 64 else 1024 // n * n)
        r = n * a.rate
        docs_day = r * DAY
        kv = (p + n) / (a.lease_ttl / 3)
        # Fair shares (cluster_target()): P // N each, one more for the
        # first P % N names.
        lo, extra = p // n, p % n
        hi = lo + (1 if extra else 0)
        print(f"\nN={n} nodes at {a.rate:.0f} pages/s each, P={p}: "
              f"{r:,.0f} pages/s in all")
        print(f"  partitions: fair shares: {extra} nodes hold {lo + 1}, "
              f"{n - extra} hold {lo}" if extra else
              f"  partitions: fair shares: {n} nodes hold {lo}",
              end="")
        print(f" (busiest node {hi / (p / n):.2f}x the mean)")
        print(f"  SLUICE_FETCH: {r:,.0f} publishes/s + {r:,.0f} acks/s, "
              f"{r * fb / 1e6:,.1f} MB/s in per replica; duplicate window "
              f"(2 min) holds {r * 120 / 1e6:,.1f} M message ids")
        print(f"  SLUICE_KEYS: {n * kmsgs:,.0f} msgs/s in ({r:,.0f} "
              f"documents, {r * kb / 1e6:,.1f} MB/s), {n * n * kmsgs:,.0f} "
              f"msgs/s out to {n} readers ({n * r * kline / 1e9:,.2f} GB/s)")
        print(f"  SLUICE_DOCS: {n * dmsgs:,.0f} msgs/s in ({r:,.0f} "
              f"documents), {r * db / 1e6:,.1f} MB/s per replica")
        print(f"  KV: {kv:,.1f} writes/s ({p} leases + {n} heartbeats "
              f"every {a.lease_ttl / 3:g} s); listing it: "
              f"{n * kv:,.0f} entries/s read by the nodes")
        lo, hi = (docs_day * x / 1e9 for x in LSH)
        print(f"  index RAM per node per day: {docs_day / 1e6:,.0f} M documents"
              f" -> keys {lo:,.0f}-{hi:,.0f} GB, signatures "
              f"{docs_day * SIG / 1e9:,.0f} GB more if held in memory")
        for name, size in (("SLUICE_FETCH", fb), ("SLUICE_KEYS", kb),
                           ("SLUICE_DOCS", db)):
            print(f"  {name} written per day at R{a.replicas}: "
                  f"{docs_day * size * a.replicas / 1e12:,.2f} TB")
        print(f"  retention: SLUICE_KEYS at 10 GiB keeps "
              f"{10 * 2**30 / kb / r / 60:,.1f} min, SLUICE_DOCS at 1 GiB "
              f"keeps {2**30 / db / r:,.1f} s")


if __name__ == "__main__":
    main()
