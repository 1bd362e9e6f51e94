"""Debian programs some tests need (promtool, prometheus): skipped on a developer's machine without them,
a failure in CI (CI=true), so a CI run never passes by not running them. `make test` installs them as
root (deploy/local/sysdeps.sh --test), as it does chromium for the browser tests."""

from __future__ import annotations

import os
import shutil

import pytest


def require(program: str, package: str) -> str:
    path = shutil.which(program)
    if path is not None:
        return path
    hint = (f"{program} is not installed. Install it with `sudo apt-get install -y {package}` (Debian/Ubuntu), or run "
            "`make test` as root: deploy/local/sysdeps.sh --test installs it.")
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"cannot run in CI: {hint}", pytrace=False)
    pytest.skip(hint)
    raise AssertionError("unreachable")
