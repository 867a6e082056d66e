#!/usr/bin/env python3
"""Politeness and timing of one bench/hosts round, from nginx's access log.

    politeness.py ACCESS_LOG T0 HOSTS PAGES_PER_HOST

ACCESS_LOG holds the round's lines in run.sh's `timing` format:
"$server_port $msec $request_time $status $request_uri".  $msec is when
nginx wrote the line (the response's end), so a request ran from
msec - request_time to msec (both with millisecond resolution).  T0 is when
the submission began (seconds since the epoch, the clock nginx uses).

Prints, for run.sh to pick up:
  violations N        requests that overlapped another on their port, plus
                      page starts under MIN_GAP after the previous page
                      start on their port (robots.txt left out)
  phases A B C        seconds after T0: the last robots.txt answered, the
                      last page started, the last page answered
  "  ..." lines       a summary for the terminal, with the page starts
                      in each second after T0 (how the scheduler paced
                      the hosts)
  violation: ...      the first few violations, for the record
"""
import collections
import sys

MIN_GAP = 0.9   # seconds between two page starts on one port
SHOWN = 10      # violations listed in full


def read(path):
    by_port = collections.defaultdict(list)
    for line in open(path):
        f = line.split()
        if len(f) != 5:
            continue
        port, end, took, status, uri = f
        end, took = float(end), float(took)
        by_port[int(port)].append((end - took, end, status, uri))
    return by_port


def main():
    path, t0, hosts, per_host = sys.argv[1:]
    t0, hosts, per_host = float(t0), int(hosts), int(per_host)
    by_port = read(path)
    shown, overlaps, short_gaps = [], 0, 0
    min_gap = min_first = float("inf")
    robots_end = page_start = page_end = t0
    robots = pages = bad = repeats = 0
    per_second = collections.Counter()
    for port, reqs in sorted(by_port.items()):
        reqs.sort()
        busy_until, last_page, robots_at = None, None, None
        seen = set()
        for start, end, status, uri in reqs:
            if status != "200":
                bad += 1
            if busy_until is not None and start < busy_until:
                overlaps += 1
                if len(shown) < SHOWN:
                    shown.append(f"{port} {uri} started {start - t0:.3f} s,"
                                 f" before the previous request ended"
                                 f" ({busy_until - t0:.3f} s)")
            busy_until = max(end, busy_until or end)
            if uri == "/robots.txt":
                robots += 1
                robots_at = start
                robots_end = max(robots_end, end)
                continue
            pages += 1
            repeats += uri in seen
            seen.add(uri)
            page_start = max(page_start, start)
            per_second[int(start - t0)] += 1
            page_end = max(page_end, end)
            if last_page is None:
                if robots_at is not None:
                    min_first = min(min_first, start - robots_at)
            else:
                gap = start - last_page
                min_gap = min(min_gap, gap)
                if gap < MIN_GAP:
                    short_gaps += 1
                    if len(shown) < SHOWN:
                        shown.append(f"{port} {uri} started {gap:.3f} s"
                                     f" after the previous page")
            last_page = start
    print(f"violations {overlaps + short_gaps}")
    print(f"phases {robots_end - t0:.3f} {page_start - t0:.3f} "
          f"{page_end - t0:.3f}")
    print(f"  {len(by_port)} of {hosts} ports asked; {robots} robots.txt "
          f"and {pages} page requests (expected {hosts} and "
          f"{hosts * per_host}); {repeats} repeated, {bad} not 200")
    print(f"  {overlaps} overlapping requests, {short_gaps} page starts "
          f"under {MIN_GAP} s apart; least gap between page starts "
          f"{min_gap:.3f} s, robots.txt start to first page {min_first:.3f} s")
    if per_second:
        print("  page starts per second after T0: " + " ".join(
            str(per_second[s]) for s in range(max(per_second) + 1)))
    for v in shown:
        print(f"violation: {v}")


if __name__ == "__main__":
    main()
