#!/usr/bin/env python3
"""The source tree's shape, checked (README.md, "Layout"):

- no module includes, directly or through its header, a module that
  includes it back: a .c and the header of the same name are one module,
  a header with no .c is a module of its own, and the include graph
  between modules has no cycle;
- daemon.c is the top: no module of the daemon includes daemon.h (the
  programs' main files aside);
- include/sluice/ holds only installed public headers: each one is named
  by an install() rule of a CMakeLists.txt.

Tests and benchmarks are left out.  Usage: check_layout.py [SOURCE_DIR]
"""
import os
import re
import sys
from pathlib import Path

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
FOLDERS = ("common", "extract", "daemon", "client", "include")
MAINS = {"daemon/sluiced.c", "daemon/daemon.c"}


def modules(root):
    """{module name: [files]}, a module being folder/stem."""
    mods = {}
    for folder in FOLDERS:
        for path in sorted((root / folder).rglob("*.[ch]")):
            rel = path.relative_to(root).as_posix()
            mods.setdefault(rel[:-2], []).append(rel)
    return mods


def resolve(root, src, name):
    """The file an #include "name" in src names, as a module, or None."""
    for base in (Path(src).parent, Path("common"), Path("include")):
        cand = (base / name).as_posix()
        if (root / cand).exists():
            return cand[:-2]
    for folder in FOLDERS:
        cand = f"{folder}/{name}"
        if (root / cand).exists():
            return cand[:-2]
    return None


def graph(root, mods):
    edges = {m: set() for m in mods}
    for m, files in mods.items():
        for f in files:
            for name in INCLUDE.findall((root / f).read_text()):
                dep = resolve(root, f, name)
                if dep is not None and dep != m:
                    edges[m].add((dep, f, name))
    return edges


def cycles(edges):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w, _, _ in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else
                os.environ.get("SLUICE_SOURCE", Path(__file__).parents[2]))
    mods = modules(root)
    edges = graph(root, mods)
    errors = []
    for comp in cycles(edges):
        inner = [f"{f} includes {n}" for m in comp
                 for d, f, n in sorted(edges[m]) if d in comp]
        errors.append("modules include each other: " + ", ".join(comp) +
                      "\n    " + "\n    ".join(inner))
    for m, deps in sorted(edges.items()):
        for d, f, n in sorted(deps):
            if d == "daemon/daemon" and f not in MAINS:
                errors.append(f"{f} includes daemon.h: only daemon.c and "
                              f"main may")
    cmake = "\n".join(p.read_text() for p in root.rglob("CMakeLists.txt")
                      if "build" not in p.parts)
    for h in sorted((root / "include").rglob("*.h")):
        rel = h.relative_to(root / "include").as_posix()
        if not re.search(r"install\s*\([^)]*" + re.escape(h.name), cmake):
            errors.append(f"include/{rel} is not installed: private "
                          f"headers sit beside their sources")
    for e in errors:
        print("layout:", e)
    n = len(mods)
    print(f"layout: {n} modules, {sum(len(v) for v in edges.values())} "
          f"include edges, {len(errors)} problems")
    print(f"{1 if not errors else 0} passed, {1 if errors else 0} failed")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
