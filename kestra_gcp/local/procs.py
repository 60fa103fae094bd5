"""Process liveness and termination for the background services, zombie-aware.

A service outlives the command that started it; when it exits, its zombie may never be reaped (a
container's PID 1 often does not reap), so "kill(pid, 0) succeeds" is not "alive": a zombie counts as dead.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def alive(pid: int) -> bool:
    """True when `pid` exists and is not a zombie."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)  # our own child: reap it if it has exited
        if done == pid:
            return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs: trust kill(0)
    return stat.rpartition(")")[2].split()[0] not in {"Z", "X"}


def terminate(pid: int, sig: int = signal.SIGTERM, timeout: float = 10.0) -> bool:
    """Send `sig`, wait up to `timeout` for the process to end, then SIGKILL; True if it was running."""
    if not alive(pid):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        while alive(pid):
            time.sleep(0.05)
    return True
