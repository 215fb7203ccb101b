"""Debian's Chromium for the browser test: where it is, and installing it with apt when it is missing
(as root, or through password-less sudo).  The browser is never downloaded."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"


def browser_test_runs() -> bool:
    """Whether tests/e2e/test_browser.py can run: Chromium is there, or apt can install it."""
    if Path(CHROMIUM).exists() or os.geteuid() == 0:
        return True
    return bool(shutil.which("sudo")) and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0


def _run_as_root(command: list[str]) -> subprocess.CompletedProcess | None:
    """Run an apt command as root, directly or through password-less sudo; None when neither is possible."""
    if os.geteuid() == 0:
        prefix = []
    elif shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        prefix = ["sudo", "-n"]
    else:
        return None
    return subprocess.run(prefix + command, capture_output=True, text=True,
                          env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def ensure_chromium() -> None:
    """Debian's chromium at CHROMIUM, installed with apt when missing; the test is skipped, loudly, when it
    cannot be."""
    if Path(CHROMIUM).exists():
        return
    apt = ["apt-get", "-o", "DPkg::Lock::Timeout=300"]
    install = apt + ["install", "-y", "--no-install-recommends", "chromium"]
    result = _run_as_root(install)
    if result is None:
        pytest.skip(f"BROWSER TEST NOT RUN: {CHROMIUM} is missing and this user can neither run apt-get "
                    "as root nor through `sudo -n`. Install Debian's chromium (apt-get install chromium).")
    if result.returncode != 0:  # a fresh machine may have no package lists yet
        _run_as_root(apt + ["update"])
        result = _run_as_root(install)
    assert result.returncode == 0 and Path(CHROMIUM).exists(), f"apt-get install chromium failed:\n{result.stderr}"
