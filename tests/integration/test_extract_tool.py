"""
test_extract_tool.py - sluice-extract(1): --help, --version, --title, a
UTF-16 page, and its man pages: the options of sluice-extract.1, of
--help and of the program's option table are the same, and both man pages
render without groff warnings (skipped without groff).  Standard library
only.
"""

import re
import shutil
import subprocess

from harness import Skip, binary, run_tests, source_dir

ARTICLE = source_dir() / "tests" / "data" / "extract" / "article.html"
TITLE = "Rivers of the North: a slow recovery"
PAGES = ("docs/man/sluice-extract.1", "docs/man/sluice_extract.3")


def _run(*args, input=None):
    p = subprocess.run([str(binary("sluice-extract")), *args], input=input,
                       capture_output=True, timeout=120)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def _help_options(text):
    """{(short, long)} of the option lines of --help."""
    return set(re.findall(r"^  -(\w), --([a-z-]+)", text, re.M))


def _man_options(path):
    """{(short, long)} of the .TP entries of the OPTIONS section."""
    src = path.read_text(encoding="utf-8")
    sect = src.split(".SH OPTIONS", 1)[1].split("\n.SH ", 1)[0]
    out = set()
    for head in re.findall(r"^\.TP\n(.*)$", sect, re.M):
        head = head.replace("\\-", "-")
        m = re.search(r"-(\w)\b.*?--([a-z-]+)", head)
        assert m, f"cannot read the option of {head!r}"
        out.add((m.group(1), m.group(2)))
    return out


def _source_options():
    src = (source_dir() / "extract" / "sluice_extract.c").read_text()
    return {(s, l) for l, s in re.findall(
        r'\{ "([a-z-]+)", \w+_argument, NULL, \'(\w)\' \}', src)}


def test_help_exits_0_and_names_every_option():
    code, out, err = _run("--help")
    assert code == 0, err
    assert out.startswith("usage: sluice-extract"), out
    assert _help_options(out) == _source_options(), \
        (_help_options(out), _source_options())
    code, out2, _ = _run("-h")
    assert code == 0 and out2 == out


def test_man_page_matches_options():
    _, out, _ = _run("--help")
    man = _man_options(source_dir() / PAGES[0])
    assert man == _help_options(out), (man, _help_options(out))
    synopsis = (source_dir() / PAGES[0]).read_text().split(
        ".SH SYNOPSIS", 1)[1].split("\n.SH ", 1)[0].replace("\\-", "-")
    for _, name in man:
        assert f"--{name}" in synopsis, f"--{name} not in the synopsis"


def test_version():
    code, out, err = _run("--version")
    assert code == 0, err
    assert re.fullmatch(r"sluice-extract \d+\.\d+\.\d+\n", out), out
    top = (source_dir() / "CMakeLists.txt").read_text()
    ver = re.search(r"project\(sluice VERSION ([0-9.]+)", top).group(1)
    assert out.split()[1] == ver, (out, ver)


def test_usage_errors_exit_2():
    assert _run()[0] == 2
    assert _run("--no-such-option", str(ARTICLE))[0] == 2
    assert _run(str(ARTICLE), str(ARTICLE))[0] == 2


def test_title_option():
    code, out, err = _run("--title", str(ARTICLE))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == TITLE, lines[:2]
    assert lines[1].startswith("Salmon have returned"), lines[:2]
    code, plain, _ = _run(str(ARTICLE))
    assert code == 0 and plain.splitlines() == lines[1:]
    # A page without a title: an empty first line.
    code, out, _ = _run("--title", "-c", "text/plain", "-",
                        input=b"just some words\n")
    assert code == 0 and out == "\njust some words\n", repr(out)


def test_utf16_page_with_bom_is_decoded():
    html = ARTICLE.read_text(encoding="utf-8")
    for enc, bom in (("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff")):
        code, out, err = _run("--title", "-", input=bom + html.encode(enc))
        assert code == 0, f"{enc}: {err}"
        assert out.splitlines()[0] == TITLE, (enc, out[:200])
        assert "Salmon have returned" in out, (enc, out[:200])


def test_man_pages_render():
    groff = shutil.which("groff")
    if groff is None:
        raise Skip("groff is not installed")
    for page in PAGES:
        p = subprocess.run([groff, "-ww", "-man", "-z",
                            str(source_dir() / page)],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0 and not p.stderr.strip(), \
            f"groff on {page}:\n{p.stderr}"


if __name__ == "__main__":
    run_tests(globals())
