"""
test_package.py - the Debian packages (debian/, README "Running it as a
service"): build them with `dpkg-buildpackage -us -uc -b` from a clean copy
of the source tree (never in the tree itself), check them with lintian
(no errors, no warnings that debian/*.lintian-overrides does not explain),
unpack them with `dpkg-deb -x`, and check

  - each package's exact file list, its conffile and its maintainer scripts
    (dh_installsystemd enables both units, purge forgets them);
  - the packaged configuration: the service's paths, not the checkout's,
    and `sluiced -n` (the packaged binary) accepts it;
  - `systemd-analyze verify` on the packaged units, with the packaged man
    pages for their Documentation= links;
  - a program built with the packaged pkg-config file, header and shared
    library runs.

Then, as root and unless SLUICE_TEST_INSTALL_DEB=0, `apt-get install
./sluice_*.deb` and `apt-get purge sluice` for real, checking that every
file dpkg -L listed is gone, /etc/sluice too, and that /etc, /var/lib and
the unit directories hold exactly what they held before.  That part is
skipped when it could not restore the machine: sluice already installed,
one of its files already present (a `cmake --install`), or apt wanting to
install other packages with it.  Without systemd running (no
/run/systemd/system) the postinst only enables the units; with it, the
service is started and the purge stops it again.

The build happens once, in the first test that needs it, in a scratch
directory removed at exit (SLUICE_KEEP_TMP=1 keeps it).  Skipped without
dpkg-buildpackage; tests/CMakeLists.txt registers it only in builds without
sanitizers, so tests/run-all builds the packages once.
"""

import atexit
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from harness import HarnessError, Skip, run_tests, source_dir

BUILD_TIMEOUT = 1200	# seconds dpkg-buildpackage may take
TOOL_TIMEOUT = 300	# seconds any other tool run may take
VERSION_RE = r"[0-9][0-9A-Za-z.+~-]*"
CONFFILE = "etc/sluice/sluiced.conf"
DEFAULT_CONF = "usr/share/sluice/sluiced.conf"
UNITS = ("lib/systemd/system/sluiced.service",
         "lib/systemd/system/sluiced.socket")
STATE_DIR = "/var/lib/sluice"
SOCKET = "/run/sluice/control.sock"

# Every file (and symbolic link) of each package; {ma} is the multiarch
# triplet.
FILES = {
    "sluice": {
        CONFFILE,
        *UNITS,
        "usr/bin/sluice-extract",
        "usr/bin/sluicectl",
        "usr/sbin/sluiced",
        DEFAULT_CONF,
        "usr/share/doc/sluice/changelog.gz",
        "usr/share/doc/sluice/copyright",
        "usr/share/lintian/overrides/sluice",
        "usr/share/man/man1/sluice-extract.1.gz",
        "usr/share/man/man1/sluicectl.1.gz",
        "usr/share/man/man5/sluiced.conf.5.gz",
        "usr/share/man/man8/sluiced.8.gz",
    },
    "libsluice-extract0": {
        "usr/lib/{ma}/libsluice-extract.so.0",
        "usr/lib/{ma}/libsluice-extract.so.0.1.0",
        "usr/share/doc/libsluice-extract0/changelog.gz",
        "usr/share/doc/libsluice-extract0/copyright",
        "usr/share/lintian/overrides/libsluice-extract0",
    },
    "libsluice-extract-dev": {
        "usr/include/sluice/extract.h",
        "usr/lib/{ma}/libsluice-extract.a",
        "usr/lib/{ma}/libsluice-extract.so",
        "usr/lib/{ma}/pkgconfig/sluice-extract.pc",
        "usr/share/doc/libsluice-extract-dev/changelog.gz",
        "usr/share/doc/libsluice-extract-dev/copyright",
        "usr/share/man/man3/sluice_extract.3.gz",
    },
}

# What the install test compares before and after: everything under these
# directories, except dpkg's and apt's own records (checked separately).
SNAPSHOT_ROOTS = ("/etc", "/var/lib", "/lib/systemd/system",
                  "/usr/lib/systemd/system", "/usr/share/sluice", "/run/sluice")
SNAPSHOT_SKIP = ("/var/lib/dpkg", "/var/lib/apt", "/var/lib/ucf")


def _run(argv, timeout=TOOL_TIMEOUT, check=True, **kw):
    """Runs argv; returns (exit code, stdout, stderr) as text."""
    try:
        p = subprocess.run([str(a) for a in argv], capture_output=True,
                           encoding="utf-8", errors="replace",
                           timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        raise HarnessError(f"{argv[0]} still running after "
                           f"{timeout}s") from None
    if check and p.returncode != 0:
        raise HarnessError(f"{' '.join(map(str, argv))} exited "
                           f"{p.returncode}\n{p.stdout[-4000:]}"
                           f"\n{p.stderr[-4000:]}")
    return p.returncode, p.stdout, p.stderr


def _tool(name):
    path = shutil.which(name)
    if path is None:
        raise Skip(f"{name} is not installed")
    return path


# ---- building once --------------------------------------------------------

_BUILT = {}
# What dpkg-buildpackage leaves in a tree it builds in; a user may have run
# it in the checkout before (README), so only new ones count.
BUILD_LEFTOVERS = ("debian/tmp", "debian/sluice", "debian/files",
                   "debian/.debhelper", "obj-*")


def _leftovers():
    return {str(p.relative_to(source_dir())) for pattern in BUILD_LEFTOVERS
            for p in source_dir().glob(pattern)}


_PRE = _leftovers()


def _copy_source(dest):
    """The source tree as a checkout has it: git's tracked and untracked
    (not ignored) files, so no build directory comes along; a plain copy
    without build*/ and var/ outside git."""
    src = source_dir()
    code, out, _ = _run(["git", "-C", src, "ls-files", "-z", "--cached",
                         "--others", "--exclude-standard"], check=False) \
        if shutil.which("git") else (1, "", "")
    if code != 0:
        shutil.copytree(src, dest, symlinks=True, ignore=shutil.
                        ignore_patterns("build*", "var", "obj-*", ".git"))
        return
    for rel in sorted(set(filter(None, out.split("\0")))):
        s = src / rel
        if not os.path.lexists(s) or s.is_dir():
            continue	# deleted in the worktree, or a submodule
        d = dest / rel
        d.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(s, d, follow_symlinks=False)


def _build():
    """Builds the packages once; returns {"out": dir holding the .debs,
    "debs": {package: path}, "root": {package: unpacked tree}, "ma":
    multiarch triplet}."""
    if _BUILT.get("error"):
        raise Skip("the package build failed (see the first failure)")
    if _BUILT:
        return _BUILT
    _tool("dpkg-buildpackage")
    try:
        _BUILT.update(_build_once())
    except BaseException:
        _BUILT["error"] = True
        raise
    return _BUILT


def _build_once():
    top = Path(tempfile.mkdtemp(prefix="sluice-deb-"))
    if os.environ.get("SLUICE_KEEP_TMP") == "1":
        print(f"  package build in {top}", flush=True)
    else:
        atexit.register(shutil.rmtree, top, ignore_errors=True)
    # apt reads a local .deb as the _apt user when it can.
    top.chmod(0o755)
    tree = top / "sluice"
    tree.mkdir()
    _copy_source(tree)
    assert (tree / "debian" / "rules").is_file(), "no debian/rules copied"
    jobs = os.cpu_count() or 2
    _run(["dpkg-buildpackage", "-us", "-uc", "-b", f"-j{jobs}"],
         cwd=tree, timeout=BUILD_TIMEOUT)
    debs = {}
    for pkg in FILES:
        found = [p for p in top.glob(f"{pkg}_*.deb")
                 if re.fullmatch(rf"{re.escape(pkg)}_{VERSION_RE}_\w+\.deb",
                                 p.name)]
        assert len(found) == 1, f"{pkg}: built {found}"
        debs[pkg] = found[0]
    roots = {}
    (top / "x").mkdir()
    (top / "control").mkdir()
    for pkg, deb in debs.items():
        roots[pkg] = top / "x" / pkg
        _run(["dpkg-deb", "-x", deb, roots[pkg]])
        _run(["dpkg-deb", "-e", deb, top / "control" / pkg])
    _, ma, _ = _run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"])
    changes = list(top.glob("sluice_*.changes"))
    assert len(changes) == 1, f"changes files: {changes}"
    return {"out": top, "tree": tree, "debs": debs, "root": roots,
            "control": top / "control", "ma": ma.strip(),
            "changes": changes[0]}


def _files(root):
    """Relative paths of the files and symbolic links under root."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + [d for d in dirnames
                                 if os.path.islink(os.path.join(dirpath, d))]:
            out.add(os.path.relpath(os.path.join(dirpath, name), root))
    return out


# ---- the packages as built ------------------------------------------------

def test_build_leaves_the_source_tree_alone():
    b = _build()
    # dpkg-buildpackage -b ran in the copy; the checkout gained nothing.
    assert b["tree"] != source_dir()
    appeared = sorted(_leftovers() - _PRE)
    assert not appeared, f"the build wrote {appeared} into the checkout"


def test_lintian_is_clean():
    b = _build()
    lintian = _tool("lintian")
    code, out, err = _run([lintian, "--info", "--show-overrides",
                           "--fail-on", "error,warning", b["changes"]],
                          check=False)
    bad = [ln for ln in out.splitlines() if re.match(r"^[EW]: ", ln)]
    assert code == 0 and not bad, (f"lintian exited {code}:\n{out}\n{err}\n"
                                   "explain a warning in debian/<package>."
                                   "lintian-overrides, or fix it")
    # Every override still matches something (lintian reports stale ones
    # as mismatched-override, an info tag).
    stale = [ln for ln in out.splitlines() if "mismatched-override" in ln
             or "unused-override" in ln]
    assert not stale, "\n".join(stale)


def test_file_lists():
    b = _build()
    wrong = []
    for pkg, want in FILES.items():
        want = {f.format(ma=b["ma"]) for f in want}
        got = _files(b["root"][pkg])
        if got != want:
            wrong.append(f"{pkg}: missing {sorted(want - got)}, "
                         f"unexpected {sorted(got - want)}")
    assert not wrong, "\n".join(wrong)
    lib = b["root"]["libsluice-extract0"] / "usr/lib" / b["ma"]
    dev = b["root"]["libsluice-extract-dev"] / "usr/lib" / b["ma"]
    assert os.readlink(lib / "libsluice-extract.so.0") == \
        "libsluice-extract.so.0.1.0"
    assert os.readlink(dev / "libsluice-extract.so") in (
        "libsluice-extract.so.0", "libsluice-extract.so.0.1.0")
    _, dyn, _ = _run(["readelf", "-d", lib / "libsluice-extract.so.0.1.0"])
    m = re.search(r"\(SONAME\)\s+Library soname: \[([^]]+)\]", dyn)
    assert m and m.group(1) == "libsluice-extract.so.0", dyn
    for prog in ("usr/sbin/sluiced", "usr/bin/sluicectl",
                 "usr/bin/sluice-extract"):
        assert os.access(b["root"]["sluice"] / prog, os.X_OK), prog
    hdr = b["root"]["libsluice-extract-dev"] / "usr/include/sluice/extract.h"
    assert hdr.read_bytes() == \
        (source_dir() / "include/sluice/extract.h").read_bytes()


def test_control_and_maintainer_scripts():
    b = _build()
    ctl = b["control"]
    conffiles = (ctl / "sluice" / "conffiles").read_text().split()
    assert conffiles == ["/" + CONFFILE], conffiles
    for pkg in ("libsluice-extract0", "libsluice-extract-dev"):
        assert not (ctl / pkg / "conffiles").exists(), pkg
    _, dev, _ = _run(["dpkg-deb", "-f", b["debs"]["libsluice-extract-dev"],
                      "Depends"])
    assert re.search(r"libsluice-extract0 \(= " + VERSION_RE + r"\)", dev), dev
    assert (ctl / "libsluice-extract0" / "shlibs").is_file()
    assert (ctl / "libsluice-extract0" / "symbols").is_file()
    postinst = (ctl / "sluice" / "postinst").read_text()
    for unit in ("sluiced.service", "sluiced.socket"):
        assert f"deb-systemd-helper enable '{unit}'" in postinst, unit
    # Starting goes through deb-systemd-invoke, only when systemd runs.
    assert "if [ -d /run/systemd/system ]; then" in postinst
    postrm = (ctl / "sluice" / "postrm").read_text()
    assert re.search(r"deb-systemd-helper purge 'sluiced\.(service|socket)' "
                     r"'sluiced\.(service|socket)'", postrm), postrm
    assert "rm -rf /var/lib/private/sluice" in postrm
    # Nothing creates users, directories or state: DynamicUser= and
    # StateDirectory= provide them.
    for script in ("preinst", "postinst", "prerm", "postrm"):
        path = ctl / "sluice" / script
        if path.exists():
            text = path.read_text()
            for word in ("adduser", "useradd", "mkdir", "install -d",
                         "systemd-tmpfiles --create"):
                assert word not in text, f"{script} runs {word}"
            _run(["sh", "-n", path])


def test_packaged_config_is_the_services():
    b = _build()
    root = b["root"]["sluice"]
    conf = (root / CONFFILE).read_text()
    assert conf == (root / DEFAULT_CONF).read_text(), \
        f"/{CONFFILE} differs from the default /{DEFAULT_CONF}"
    assert re.search(rf"^state_dir = {re.escape(STATE_DIR)}$", conf, re.M), \
        "daemon.state_dir is not the unit's StateDirectory="
    assert re.search(rf"^socket = {re.escape(SOCKET)}$", conf, re.M), \
        "daemon.socket is not sluiced.socket's"
    assert not re.search(r"^state_dir = var$", conf, re.M)
    assert "./var" not in conf, "the comment still describes the checkout"
    # Otherwise the bundled file, key for key.
    bundled = (source_dir() / "conf/sluiced.conf").read_text()
    keys = lambda text: [ln.split("=")[0].strip() for ln in text.splitlines()
                         if ln and not ln.startswith(("#", "["))]
    assert keys(conf) == keys(bundled)
    service = (root / UNITS[0]).read_text()
    assert f"-c /{CONFFILE}" in service
    sluiced = root / "usr/sbin/sluiced"
    _, out, _ = _run([sluiced, "-n", "-c", root / CONFFILE])
    assert "configuration OK" in out, out
    # As the unit runs it (the --set of ExecStart=).
    _, out, _ = _run([sluiced, "-n", "-c", root / CONFFILE, "--set",
                      f"daemon.state_dir={STATE_DIR}"])
    assert "configuration OK" in out, out


def test_packaged_units_verify(tmp):
    b = _build()
    analyze = _tool("systemd-analyze")
    root = b["root"]["sluice"]
    service = (root / UNITS[0]).read_text()
    assert "ExecStart=/usr/sbin/sluiced " in service
    units = tmp / "units"
    units.mkdir()
    # verify insists that ExecStart= exists: point it at the packaged one.
    (units / "sluiced.service").write_text(service.replace(
        "ExecStart=/usr/sbin/sluiced ",
        f'ExecStart="{root}/usr/sbin/sluiced" '))
    shutil.copy(root / UNITS[1], units / "sluiced.socket")
    env = dict(os.environ, MANPATH=str(root / "usr/share/man"))
    argv = [analyze, "verify"]
    if shutil.which("man") is None:
        argv.append("--man=no")
    code, out, err = _run(argv + [units / "sluiced.socket",
                                  units / "sluiced.service"],
                          check=False, env=env)
    noise = [ln for ln in (out + err).splitlines() if "sluiced" in ln]
    assert code == 0 and not noise, (f"systemd-analyze verify exited {code}:"
                                     f"\n{out}{err}")


def test_program_builds_against_the_dev_package(tmp):
    b = _build()
    cc = _tool("cc")
    _tool("pkg-config")
    root = tmp / "root"
    for pkg in ("libsluice-extract0", "libsluice-extract-dev"):
        _run(["dpkg-deb", "-x", b["debs"][pkg], root])
    libdir = root / "usr/lib" / b["ma"]
    env = dict(os.environ, PKG_CONFIG_PATH=str(libdir / "pkgconfig"))
    env.pop("PKG_CONFIG_LIBDIR", None)
    _, flags, _ = _run(["pkg-config", "--cflags", "--libs", "sluice-extract"],
                       env=env)
    incs = [os.path.realpath(f[2:]) for f in flags.split()
            if f.startswith("-I")]
    assert os.path.realpath(root / "usr/include") in incs, flags
    prog = tmp / "prog"
    _run([cc, "-std=c11", "-Wall", "-Werror", "-o", prog,
          source_dir() / "tests/data/extract_lib/prog.c", *flags.split()])
    _, out, _ = _run([prog, source_dir() / "tests/data/extract/article.html"],
                     env=dict(os.environ, LD_LIBRARY_PATH=str(libdir)))
    assert out.startswith("title: Rivers of the North"), out[:500]


# ---- installing and purging for real --------------------------------------

def _snapshot():
    """{path: kind} of everything under SNAPSHOT_ROOTS."""
    seen = {}
    for top in SNAPSHOT_ROOTS:
        if not os.path.lexists(top):
            continue
        seen[top] = "d"
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames
                           if os.path.join(dirpath, d) not in SNAPSHOT_SKIP]
            for name in dirnames + filenames:
                p = os.path.join(dirpath, name)
                seen[p] = ("l" if os.path.islink(p) else
                           "d" if os.path.isdir(p) else "f")
    return seen


def _status(pkg):
    code, out, _ = _run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}", pkg],
                        check=False)
    return out.strip() if code == 0 else ""


def _apt(*args):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    return _run(["apt-get", "-y", "-q", *args], env=env)


def _sluiced_pids():
    """Processes running the installed /usr/sbin/sluiced."""
    pids = []
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and \
                    os.readlink(d / "exe") == "/usr/sbin/sluiced":
                pids.append(int(d.name))
        except OSError:
            pass
    return pids


def _systemd_running():
    return os.path.isdir("/run/systemd/system")


def test_install_and_purge(tmp):
    if os.environ.get("SLUICE_TEST_INSTALL_DEB") == "0":
        raise Skip("SLUICE_TEST_INSTALL_DEB=0")
    if os.geteuid() != 0:
        raise Skip("installing a package needs root")
    _tool("apt-get")
    b = _build()
    deb = b["debs"]["sluice"]
    if _status("sluice") not in ("", "un"):
        raise Skip(f"sluice is already on this machine ({_status('sluice')})")
    present = [p for p in ["/" + f for f in FILES["sluice"]] +
               ["/etc/sluice", STATE_DIR, "/var/lib/private/sluice"]
               if os.path.lexists(p)]
    if present:
        # The purge would delete them: someone's install, someone's state.
        raise Skip(f"files of sluice exist outside dpkg (a cmake --install?): "
                   f"{sorted(present)}")
    _, sim, _ = _apt("install", "--simulate", deb)
    extra = sorted(set(re.findall(r"^Inst (\S+)", sim, re.M)) - {"sluice"})
    if extra:
        raise Skip(f"apt would also install {extra}; the test could not "
                   f"leave the machine as it found it")

    before = _snapshot()
    try:
        _apt("install", deb)
        assert _status("sluice") == "ii", _status("sluice")
        _, listed, _ = _run(["dpkg", "-L", "sluice"])
        listed = [p for p in listed.splitlines() if p.startswith("/")]
        for f in FILES["sluice"]:
            assert "/" + f in listed, f"dpkg -L sluice lacks /{f}"
            assert os.path.lexists("/" + f), f"/{f} not installed"
        ours = [p for p in listed if not os.path.isdir(p) or
                p in ("/etc/sluice", "/usr/share/sluice",
                      "/usr/share/doc/sluice", "/usr/include/sluice")]
        # dh_installsystemd's postinst enabled both units.
        wants = ("/etc/systemd/system/multi-user.target.wants/sluiced.service",
                 "/etc/systemd/system/sockets.target.wants/sluiced.socket")
        for link in wants:
            assert os.path.islink(link), f"{link} missing: unit not enabled"
        if _systemd_running():
            # The postinst started them; the purge below stops them.
            code, out, _ = _run(["systemctl", "is-active", "sluiced.socket"],
                                check=False)
            assert out.strip() == "active", f"sluiced.socket is {out}"
        else:
            # deb-systemd-invoke did nothing: no systemd, no daemon.
            assert not os.path.exists(SOCKET), f"{SOCKET} exists"
            assert not _sluiced_pids(), f"sluiced runs: {_sluiced_pids()}"
        # What systemd would have made for the service (StateDirectory=
        # with DynamicUser=), so the purge is seen removing it.
        # /var/lib/private is systemd's, for every DynamicUser= service:
        # the purge leaves it, and the test removes it if it made it.
        made = []
        private = Path("/var/lib/private")
        made_private = False
        if not os.path.lexists(STATE_DIR):	# systemd may have made it
            if not private.exists():
                private.mkdir(mode=0o700)
                made_private = True
            state = private / "sluice"
            state.mkdir(mode=0o700)
            (state / "data.mdb").write_bytes(b"\0" * 4096)
            os.symlink("private/sluice", STATE_DIR)
            made += [state, Path(STATE_DIR)]

        _apt("purge", "sluice")
        assert _status("sluice") in ("", "un"), _status("sluice")
        left = [p for p in ours if os.path.lexists(p)]
        assert not left, f"left after purge: {left}"
        assert not os.path.lexists("/etc/sluice"), "/etc/sluice left"
        for m in made:
            assert not os.path.lexists(m), f"{m} left after purge"
        info = list(Path("/var/lib/dpkg/info").glob("sluice.*"))
        assert not info, f"dpkg still holds {info}"
        if _systemd_running():
            _, out, _ = _run(["systemctl", "is-active", "sluiced.service",
                              "sluiced.socket"], check=False)
            assert "active" not in out.split(), f"still running: {out}"
        if made_private:
            private.rmdir()	# fails if the purge left something in it
        after = _snapshot()
        added = sorted(set(after) - set(before))
        removed = sorted(set(before) - set(after))
        assert not added and not removed, (f"purge left {added}; "
                                           f"gone since before: {removed}")
    finally:
        if _status("sluice") not in ("", "un"):
            _run(["apt-get", "-y", "-q", "purge", "sluice"], check=False,
                 env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        for p in ("/var/lib/sluice", "/var/lib/private/sluice"):
            if p not in before and os.path.lexists(p):
                if os.path.islink(p):
                    os.unlink(p)
                else:
                    shutil.rmtree(p, ignore_errors=True)
        if "/var/lib/private" not in before and \
                os.path.isdir("/var/lib/private"):
            try:
                os.rmdir("/var/lib/private")
            except OSError:
                pass


if __name__ == "__main__":
    run_tests(globals())
