"""
test_systemd_units.py - the systemd units and the man pages that ship with
sluiced: the service's sandbox keeps its `systemd-analyze security` rating,
both units pass `systemd-analyze verify`, the pages render without groff
warnings, and sluiced.conf(5) documents exactly the keys of
conf/sluiced.conf with their defaults and, as daemon/config.c's table says,
whether each applies on reload or needs a restart.

Tests whose tool (systemd-analyze, groff, man) is missing are skipped.
"""

import os
import re
import shutil
import subprocess

from harness import HarnessError, Skip, binary, run_tests, source_dir

MAX_EXPOSURE = 2.0	# highest overall rating accepted (0 safe .. 10 unsafe)
TOOL_TIMEOUT = 120	# seconds one tool run may take
PAGES = ("docs/man/sluiced.8", "docs/man/sluiced.conf.5")
UNITS = ("systemd/sluiced.service", "systemd/sluiced.socket")
EXEC_PATH = "/usr/sbin/sluiced"
# Keys whose value in the bundled file is not the built-in default, on
# purpose (the file says why).
CONF_OVERRIDES = {"daemon.state_dir", "cluster.nats"}  # cluster.nats: an example


def _tool(name):
    path = shutil.which(name)
    if path is None:
        raise Skip(f"{name} is not installed")
    return path


def _run(argv, env=None):
    """Runs argv; returns (exit code, stdout, stderr) as text."""
    try:
        p = subprocess.run([str(a) for a in argv], capture_output=True,
                           encoding="utf-8", errors="replace",
                           timeout=TOOL_TIMEOUT,
                           env=dict(os.environ, **(env or {})))
    except subprocess.TimeoutExpired:
        raise HarnessError(f"{argv[0]} still running after "
                           f"{TOOL_TIMEOUT}s") from None
    return p.returncode, p.stdout, p.stderr


def _exposure(unit):
    """Overall exposure rating of a unit file, and the tool's stderr."""
    code, out, err = _run([_tool("systemd-analyze"), "security",
                           "--offline=yes", "--no-pager", unit])
    assert code == 0, f"systemd-analyze security exited {code}:\n{err}"
    # systemd 252: "→ Overall exposure level for NAME: 1.2 OK 🙂" ("->"
    # and ":-)" outside UTF-8 locales).
    m = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", out)
    assert m, f"no overall exposure line in:\n{out[-2000:]}"
    return float(m.group(1)), err


def test_service_exposure_is_at_most_2():
    unit = source_dir() / UNITS[0]
    score, err = _exposure(unit)
    # A misspelt directive is only warned about, and then not applied.
    noise = [ln for ln in err.splitlines() if "sluiced" in ln]
    assert not noise, "systemd-analyze complains:\n" + "\n".join(noise)
    assert score <= MAX_EXPOSURE, (
        f"sluiced.service is rated {score}, more than {MAX_EXPOSURE}; run "
        f"`systemd-analyze security --offline=yes {unit}` to see which "
        f"directive went missing")


def test_exposure_parser_sees_an_unsandboxed_unit(tmp):
    # The rating above is only meaningful if an unsandboxed unit fails it.
    unit = tmp / "bare.service"
    unit.write_text("[Service]\nExecStart=/bin/true\n")
    score, _ = _exposure(unit)
    assert score > MAX_EXPOSURE, f"a bare unit is rated {score}"


def _man_tree(tmp):
    """A MANPATH holding our pages, so Documentation=man:... resolves."""
    root = tmp / "man"
    for page in PAGES:
        src = source_dir() / page
        section = root / f"man{src.suffix[1:]}"
        section.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, section / src.name)
    return root


def test_units_verify(tmp):
    analyze = _tool("systemd-analyze")
    sluiced = binary("sluiced")
    # verify insists that ExecStart= exists: point a copy at the build.
    service = (source_dir() / UNITS[0]).read_text()
    assert f"ExecStart={EXEC_PATH} " in service, \
        f"ExecStart= no longer runs {EXEC_PATH}"
    units = tmp / "units"
    units.mkdir()
    (units / "sluiced.service").write_text(
        service.replace(f"ExecStart={EXEC_PATH} ", f'ExecStart="{sluiced}" '))
    shutil.copy(source_dir() / UNITS[1], units / "sluiced.socket")
    env = {"MANPATH": str(_man_tree(tmp))}
    if shutil.which("man") is None:
        argv = [analyze, "verify", "--man=no"]
    else:
        argv = [analyze, "verify"]
    code, out, err = _run(argv + [units / "sluiced.socket",
                                  units / "sluiced.service"], env=env)
    # Unknown keys are warnings with exit code 0: any line naming one of
    # our units is a failure.
    noise = [ln for ln in (out + err).splitlines() if "sluiced" in ln]
    assert code == 0 and not noise, (f"systemd-analyze verify exited {code}:"
                                     f"\n{out}{err}")


def test_man_pages_render_without_warnings():
    groff = _tool("groff")
    for page in PAGES:
        path = source_dir() / page
        code, _, err = _run([groff, "-ww", "-man", "-z", path])
        assert code == 0 and not err.strip(), f"groff on {page}:\n{err}"
        if shutil.which("man") is None:
            continue
        code, out, err = _run(["man", "--warnings", "-l", path],
                              env={"MANWIDTH": "80", "MANPAGER": "cat",
                                   "PAGER": "cat"})
        assert code == 0 and not err.strip(), f"man on {page}:\n{err}"
        assert "NAME" in out and "SEE ALSO" in out, f"{page} renders empty"


# ---- what sluiced.conf(5) says about each key -----------------------------

def _conf_keys():
    """{"section.key": value} of the bundled file, quotes removed."""
    keys, section, commented = {}, None, False
    for line in (source_dir() / "conf/sluiced.conf").read_text().splitlines():
        line = line.strip()
        # A section shipped commented out ("# [cluster]", then "#key = v"
        # lines) documents its keys and their defaults all the same.
        m = re.fullmatch(r"#\s*\[([a-z]+)\]", line)
        if m:
            section, commented = m.group(1), True
            continue
        m = re.fullmatch(r"#([a-z_]+) = ?(.*)", line)
        if commented and m:
            keys[f"{section}.{m.group(1)}"] = m.group(2).strip()
            continue
        if not line or line.startswith("#"):
            continue
        commented = False
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        key, sep, value = line.partition("=")
        assert sep and section, f"conf/sluiced.conf: odd line {line!r}"
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        keys[f"{section}.{key.strip()}"] = value
    return keys


def _table_restart():
    """{"section.key": needs a restart} from daemon/config.c's table."""
    src = (source_dir() / "daemon/config.c").read_text()
    table = re.search(r"cfg_keys\[\] = \{(.*?)\n\};", src, re.S)
    assert table, "daemon/config.c: cfg_keys[] not found"
    rows = re.findall(r'\{\s*"([a-z]+\.[a-z_]+)",(.*?)\},', table.group(1),
                      re.S)
    assert rows, "daemon/config.c: no rows in cfg_keys[]"
    return {name: "CFG_RESTART" in rest for name, rest in rows}


def _rendered(page):
    """The page as plain text, one long line per paragraph."""
    code, out, err = _run([_tool("groff"), "-man", "-Tutf8", "-P-cbou",
                           "-rLL=400n", source_dir() / page])
    assert code == 0, f"groff on {page}:\n{err}"
    return out


def _key_entries():
    """{"section.key": its paragraph} from the KEYS section of the page."""
    text = _rendered(PAGES[1])
    keys = text.split("\nKEYS\n", 1)[-1].split("\nCONSTRAINTS\n", 1)[0]
    entries, name = {}, None
    for line in keys.splitlines():
        m = re.fullmatch(r" {7}([a-z]+\.[a-z_]+)", line)
        if m:
            name = m.group(1)
            assert name not in entries, f"{name} documented twice"
            entries[name] = ""
        elif name is not None:
            entries[name] += " " + line.strip()
    return entries


def test_conf_page_documents_every_key():
    conf = _conf_keys()
    text = _rendered(PAGES[1])
    missing = [k for k in conf
               if not re.search(r"(?<![\w.])" + re.escape(k) + r"(?!\w)",
                                text)]
    assert not missing, f"sluiced.conf.5 does not mention: {missing}"
    entries = _key_entries()
    assert set(entries) == set(conf), (
        f"keys documented but not in conf/sluiced.conf: "
        f"{sorted(set(entries) - set(conf))}; in the file but without an "
        f"entry: {sorted(set(conf) - set(entries))}")


def test_conf_page_defaults_match_the_bundled_file():
    conf = _conf_keys()
    wrong = []
    for name, entry in _key_entries().items():
        m = re.search(r"default (.*?)(?:;| \(with)", entry)
        if m is None:
            wrong.append(f"{name}: no default")
            continue
        stated = "" if m.group(1) == "empty" else m.group(1)
        if name not in CONF_OVERRIDES and stated != conf.get(name):
            wrong.append(f"{name}: page says {stated!r}, "
                         f"file has {conf.get(name)!r}")
    assert not wrong, "\n".join(wrong)


def test_conf_page_says_which_keys_need_a_restart():
    table = _table_restart()
    assert set(table) == set(_conf_keys()), \
        "daemon/config.c and conf/sluiced.conf list different keys"
    wrong = []
    for name, entry in _key_entries().items():
        m = re.search(r"; (reload|restart)\.", entry)
        said = m.group(1) if m else None
        want = "restart" if table.get(name) else "reload"
        if said != want:
            wrong.append(f"{name}: page says {said}, config.c means {want}")
    assert not wrong, "\n".join(wrong)


if __name__ == "__main__":
    run_tests(globals())
