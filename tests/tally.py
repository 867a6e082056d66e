#!/usr/bin/env python3
"""
tally.py - counts the test cases of `ctest -V` logs, for tests/run-all.

ctest counts programs; each program runs many cases and says how many:
cmocka prints "[  PASSED  ] N test(s)." (and "[  FAILED  ] N", "[  SKIPPED ]
N"), the integration scripts and the layout check "N passed, M failed[, K
skipped]".  A program that prints neither (a fuzz target) counts as one
case, passed, failed or skipped as ctest says; a program that failed
without reporting a failed case counts one more failure.

Usage: tally.py LOG...  Prints the output of every failed program, one
line per log, and last the line CI reads, alone:
    N passed, N failed, N skipped
Exits 0 (the caller keeps ctest's exit status).
"""

import re
import sys

RESULT = re.compile(r"^\s*\d+/\d+ Test\s+#(\d+): (\S+) \.*\s*(\*+)?\s*"
                    r"(Passed|Failed|Not Run|Skipped|Timeout|Exception|"
                    r"\S+)")
CMOCKA = re.compile(r"^\[\s+(PASSED|FAILED|SKIPPED)\s+\] (\d+) test")
SCRIPT = re.compile(r"^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?\s*$")


def tally(path):
    out, results = {}, {}
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            m = RESULT.match(line)
            if m:
                results[m.group(1)] = (m.group(2), m.group(4))
                continue
            m = re.match(r"^(\d+): (.*)$", line)
            if m:
                out.setdefault(m.group(1), []).append(m.group(2))
    total = [0, 0, 0]
    for num, (name, res) in sorted(results.items(), key=lambda r: int(r[0])):
        lines = out.get(num, [])
        got = None
        cm = [0, 0, 0]
        for ln in lines:
            m = CMOCKA.match(ln)
            if m:
                cm[("PASSED", "FAILED", "SKIPPED").index(m.group(1))] += \
                    int(m.group(2))
                got = cm
        for ln in lines:
            m = SCRIPT.match(ln)
            if m:
                got = [int(m.group(1)), int(m.group(2)),
                       int(m.group(3) or 0)]
        passed = res == "Passed"
        skipped = res in ("Skipped", "Not Run") and not got
        if got is None:
            got = [1, 0, 0] if passed else [0, 0, 1] if skipped else \
                [0, 1, 0]
        elif not passed and got[1] == 0:
            got = [got[0], 1, got[2]]
        if not passed:
            print(f"---- {name}: {res}")
            for ln in lines[-60:]:
                print("    " + ln)
        total = [t + g for t, g in zip(total, got)]
    return total


def main(argv):
    grand = [0, 0, 0]
    for path in argv[1:]:
        t = tally(path)
        print(f"{path}: {t[0]} passed, {t[1]} failed, {t[2]} skipped")
        grand = [g + x for g, x in zip(grand, t)]
    print(f"{grand[0]} passed, {grand[1]} failed, {grand[2]} skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
