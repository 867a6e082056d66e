"""
test_extract_lib.py - libsluice-extract as a user outside the tree sees it:
install the build tree, then build tests/data/extract_lib/prog.c with
pkg-config against the installed shared library and, separately, the
installed static one, and run both on tests/data/extract/article.html.
Also checks the shared library's soname and that it exports only the
public API (sluice_* names).

The install goes under DESTDIR in the test's scratch directory: the tree
installs its configuration file to an absolute /etc-style path, which
DESTDIR keeps out of the real filesystem.

Sanitized builds (SLUICE_SANITIZE, and the fuzz build's coverage
instrumentation) leave the sanitizer runtimes to the executable, so the
program is compiled with the build's own compiler and the same
-fsanitize flags (read from CMakeCache.txt).  Standard library only.
"""

import os
import re
import shutil
import subprocess

from harness import Skip, build_dir, run_tests, source_dir

PUBLIC = {"sluice_extract_init", "sluice_extract_opts_default",
          "sluice_extract_page",
          "sluice_extract_doc_free", "sluice_extract_doc_more",
          "sluice_extract_status_name",
          "sluice_extract_word_count", "sluice_site_memory_opts_default",
          "sluice_site_memory_new", "sluice_site_memory_free",
          "sluice_site_memory_record", "sluice_site_memory_dump",
          "sluice_site_memory_restore", "sluice_extract_budget_default",
          "sluice_site_memory_dump_site", "sluice_site_memory_lines",
          "sluice_extract_page_budget"}
ARTICLE_LINES = (
    "Salmon have returned to three northern rivers for the first time",
    "Farmers fenced off the banks, councils rebuilt two sewage works",
    "The report warns that the recovery is fragile",
)


def _cache():
    """The build's CMakeCache.txt as {name: value}."""
    out = {}
    with open(build_dir() / "CMakeCache.txt", encoding="utf-8") as f:
        for ln in f:
            m = re.match(r"^([A-Za-z_0-9]+):[A-Z]+=(.*)$", ln.rstrip("\n"))
            if m:
                out[m.group(1)] = m.group(2)
    return out


def _on(v):
    return (v or "").upper() in ("ON", "1", "TRUE", "YES", "Y")


def _compiler_and_flags():
    c = _cache()
    cc = c.get("CMAKE_C_COMPILER") or "cc"
    flags = []
    if _on(c.get("SLUICE_SANITIZE")):
        flags += ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
    if _on(c.get("SLUICE_FUZZ")):
        # The library calls the coverage hooks; libFuzzer's runtime is not
        # wanted in a plain program, but clang's sanitizer runtimes define
        # the hooks once the program itself is built with coverage.
        flags += ["-fsanitize=fuzzer-no-link"]
    return cc, flags


def _run(argv, env=None, **kw):
    p = subprocess.run(argv, env=env, capture_output=True, text=True,
                       timeout=600, **kw)
    assert p.returncode == 0, (f"{' '.join(map(str, argv))} exited "
                               f"{p.returncode}\n{p.stdout}\n{p.stderr}")
    return p.stdout


def _need(*tools):
    for t in tools:
        if shutil.which(t) is None:
            raise Skip(f"{t} is not installed")


def _install(tmp):
    """Installs the build tree under tmp/root; returns (root+prefix,
    libdir, pkg-config environment)."""
    _need("cmake", "pkg-config", "nm", "readelf")
    if not (build_dir() / "CMakeCache.txt").is_file():
        raise Skip(f"{build_dir()} is not configured")
    root, prefix = tmp / "root", "/opt/sluice-test"
    env = dict(os.environ, DESTDIR=str(root))
    _run(["cmake", "--install", str(build_dir()), "--prefix", prefix],
         env=env)
    top = root / prefix.lstrip("/")
    pcs = sorted(top.glob("**/pkgconfig/sluice-extract.pc"))
    assert len(pcs) == 1, f"sluice-extract.pc installed as {pcs}"
    libdir = pcs[0].parent.parent
    penv = dict(os.environ, PKG_CONFIG_PATH=str(pcs[0].parent))
    penv.pop("PKG_CONFIG_LIBDIR", None)
    return top, libdir, penv


def _pkg(penv, *args):
    return _run(["pkg-config", *args, "sluice-extract"], env=penv).split()


def _check_output(out):
    lines = out.splitlines()
    assert lines[0] == "title: Rivers of the North: a slow recovery", lines
    m = re.match(r"^words: (\d+) (\d+)$", lines[1])
    assert m and m.group(1) == m.group(2) and int(m.group(1)) > 50, lines[1]
    for want in ARTICLE_LINES:
        assert any(ln.startswith(want) for ln in lines[2:]), (want, out)
    assert "Share on Facebook" not in out and "Politics" not in out, out


def _needed(path):
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^]]+)\]",
                      _run(["readelf", "-d", str(path)]))


def test_installed_files(tmp):
    top, libdir, _ = _install(tmp)
    hdr = top / "include" / "sluice" / "extract.h"
    assert hdr.is_file(), hdr
    assert (hdr.read_bytes() == (source_dir() / "include" / "sluice" /
                                 "extract.h").read_bytes())
    for name in ("libsluice-extract.a", "libsluice-extract.so",
                 "libsluice-extract.so.0"):
        assert (libdir / name).exists(), libdir / name
    real = (libdir / "libsluice-extract.so").resolve().name
    assert re.fullmatch(r"libsluice-extract\.so\.0\.\d+\.\d+", real), real
    for page in ("man1/sluice-extract.1", "man3/sluice_extract.3"):
        assert (top / "share" / "man" / page).is_file(), page


def test_shared_exports_only_public_api(tmp):
    _, libdir, _ = _install(tmp)
    so = libdir / "libsluice-extract.so"
    dyn = _run(["readelf", "-d", str(so)])
    m = re.search(r"\(SONAME\)\s+Library soname: \[([^]]+)\]", dyn)
    assert m and m.group(1) == "libsluice-extract.so.0", dyn
    names = set()
    for ln in _run(["nm", "-D", "--defined-only", str(so)]).splitlines():
        parts = ln.split()
        if len(parts) == 3:
            names.add(parts[2])
    if _on(_cache().get("SLUICE_FUZZ")):
        # The fuzz build's coverage instrumentation makes the linker add
        # bounds of its sections (__start___sancov_cntrs...) to .dynsym;
        # only that build has them, and it is never installed for real.
        names = {n for n in names
                 if not re.fullmatch(r"__(start|stop)___sancov_\w+", n)}
    assert names == PUBLIC, f"exported: {sorted(names)}"
    # The archive carries the common helper it needs (self-contained).
    members = _run(["ar", "t", str(libdir / "libsluice-extract.a")])
    assert "buf.c.o" in members.split(), members


def test_program_links_shared_library(tmp):
    _, libdir, penv = _install(tmp)
    cc, flags = _compiler_and_flags()
    _need(cc)
    prog = tmp / "prog"
    _run([cc, *flags, "-std=c11", "-Wall", "-Werror", "-o", str(prog),
          str(source_dir() / "tests" / "data" / "extract_lib" / "prog.c"),
          *_pkg(penv, "--cflags", "--libs")])
    assert "libsluice-extract.so.0" in _needed(prog), _needed(prog)
    env = dict(os.environ, LD_LIBRARY_PATH=str(libdir))
    _check_output(_run([str(prog), str(source_dir() / "tests" / "data" /
                                       "extract" / "article.html")],
                       env=env))


def test_program_links_static_library(tmp):
    _, libdir, penv = _install(tmp)
    cc, flags = _compiler_and_flags()
    _need(cc)
    src = str(source_dir() / "tests" / "data" / "extract_lib" / "prog.c")
    prog = tmp / "prog-static"
    # pkg-config --static adds the dependencies' libraries; -l: makes the
    # linker take the archive although the .so sits beside it.
    libs = ["-l:libsluice-extract.a" if a == "-lsluice-extract" else a
            for a in _pkg(penv, "--static", "--libs")]
    assert "-l:libsluice-extract.a" in libs, libs
    for dep in ("-lxml2", "-ljansson", "-lcurl", "-lutf8proc", "-lm"):
        assert dep in libs, f"{dep} not in pkg-config --static: {libs}"
    argv = [cc, *flags, "-std=c11", "-Wall", "-Werror", "-o", str(prog),
            src, *_pkg(penv, "--static", "--cflags")]
    p = subprocess.run(argv + libs, capture_output=True, text=True,
                       timeout=600)
    if p.returncode != 0:
        # Debian's libcurl.pc lists, for static links, libraries whose -dev
        # packages (with the libX.so names -lX needs) may not be installed:
        # -lnghttp2, -lrtmp, -lssh2...  Only that is tolerated: link our
        # archive, then the dependencies as shared libraries.
        missing = re.findall(r"cannot find -l(\S+?):", p.stderr)
        assert missing and "sluice-extract" not in p.stderr and \
            len(missing) == len(re.findall(r"ld: ", p.stderr)), \
            f"{' '.join(argv + libs)}\n{p.stderr}"
        reqs = _run(["pkg-config", "--print-requires-private",
                     "sluice-extract"], env=penv).split()
        deps = _run(["pkg-config", "--libs", *reqs], env=penv).split()
        _run(argv + ["-l:libsluice-extract.a", "-L" + str(libdir), *deps,
                     "-lm"])
        print(f"  (static dependencies missing: {' '.join(missing)}; "
              "linked them shared)")
    assert not any("sluice" in n for n in _needed(prog)), _needed(prog)
    env = dict(os.environ)
    env.pop("LD_LIBRARY_PATH", None)
    _check_output(_run([str(prog), str(source_dir() / "tests" / "data" /
                                       "extract" / "article.html")],
                       env=env))


if __name__ == "__main__":
    run_tests(globals())
