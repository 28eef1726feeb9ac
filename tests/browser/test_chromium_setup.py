"""The README's test command on a machine without Chromium: installed where the run may, else a clear failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.browser.conftest import APT_TIMEOUT_S, ROOT

ONE_BROWSER_TEST = "tests/browser/test_hub_client.py::test_client_drops_duplicates_and_refills_a_gap_by_resubscribing"


def test_a_missing_chromium_that_apt_cannot_install_fails_the_browser_tests_saying_what_to_install(
        tmp_path: Path) -> None:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    apt_get = fake_bin / "apt-get"
    apt_get.write_text("#!/bin/sh\necho \"E: fake apt-get: $*\" >&2\nexit 1\n")
    apt_get.chmod(0o755)
    missing = tmp_path / "no-chromium-here"
    env = {**os.environ, "HUB_CHROMIUM": str(missing), "PATH": f"{fake_bin}:{os.environ['PATH']}"}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                          ONE_BROWSER_TEST], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                         check=False)
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    assert "skipped" not in output, output
    assert "installing Debian's chromium for the browser tests" in output, output
    update = f"-o DPkg::Lock::Timeout={APT_TIMEOUT_S // 2} update -qq"  # waits for another apt's lock
    assert f"fake apt-get: {update}" in output, "the reason apt failed is shown"
    message = (f"{missing} not found (`apt-get {update}` exited 1: E: fake apt-get: {update}): install "
               "Debian's chromium (as root: apt-get install chromium fonts-noto-color-emoji), or set HUB_CHROMIUM "
               "to a Chromium binary")
    assert message in output, output
    assert "1 error" in output, output
