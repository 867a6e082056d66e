"""
test_errors.py - errors that say what to do (issue 12): sluicectl against a
daemon that is not running, config errors, per-command help, the address
guard's message.
"""

import os
import subprocess

from harness import binary, run_tests


def _sluicectl(args, env=None):
    e = {k: v for k, v in os.environ.items()
         if k not in ("SLUICE_SOCKET", "RUNTIME_DIRECTORY")}
    e.update(env or {})
    return subprocess.run([str(binary("sluicectl"))] + list(args), env=e,
                          capture_output=True, text=True, timeout=30)


def test_not_running(tmp):
    missing = tmp / "none.sock"
    p = _sluicectl(["-s", missing, "status"])
    assert p.returncode == 2, p
    assert str(missing) in p.stderr and "(from -s)" in p.stderr and \
        "is sluiced running?" in p.stderr, p.stderr
    p = _sluicectl(["status"], {"SLUICE_SOCKET": str(missing)})
    assert p.returncode == 2 and "(from $SLUICE_SOCKET)" in p.stderr and \
        "is sluiced running?" in p.stderr, p.stderr
    p = _sluicectl(["status"], {"RUNTIME_DIRECTORY": str(tmp)})
    assert p.returncode == 2 and "(from $RUNTIME_DIRECTORY)" in p.stderr \
        and str(tmp / "control.sock") in p.stderr, p.stderr
    if not os.path.exists("/run/sluice/control.sock"):
        p = _sluicectl(["status"])
        assert p.returncode == 2 and "(from the default)" in p.stderr and \
            "is sluiced running?" in p.stderr, p.stderr
    # A socket file nobody listens on (a daemon that died) says the same.
    import socket
    stale = tmp / "stale.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(stale))
    s.close()
    p = _sluicectl(["-s", stale, "status"])
    assert p.returncode == 2 and "is sluiced running?" in p.stderr, p.stderr


if __name__ == "__main__":
    run_tests(globals())
