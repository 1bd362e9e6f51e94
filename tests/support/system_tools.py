"""Debian programs and libraries some tests need (promtool, prometheus, libzbar0): skipped on a developer's machine without them,
a failure in CI (CI=true), so a CI run never passes by not running them. `make test` installs them as
root (deploy/local/sysdeps.sh --test), as it does chromium for the browser tests."""

from __future__ import annotations

import importlib
import os
import shutil
from types import ModuleType
from typing import NoReturn

import pytest


def require(program: str, package: str) -> str:
    path = shutil.which(program)
    if path is not None:
        return path
    _missing(f"{program} is not installed", package)


def require_module(module: str, package: str) -> ModuleType:
    """A Python module that loads an OS library (pyzbar loads libzbar): the module, or skip / fail as above."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        _missing(f"{module} cannot load ({exc})", package)


def _missing(what: str, package: str) -> NoReturn:
    hint = (
        f"{what}. Install it with `sudo apt-get install -y {package}` (Debian/Ubuntu), or run "
        "`make test` as root: deploy/local/sysdeps.sh --test installs it."
    )
    skip_or_fail(hint)


def skip_or_fail(hint: str) -> NoReturn:
    """Skip with `hint` (how to install what is missing) on a developer's machine; fail in CI."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"cannot run in CI: {hint}", pytrace=False)
    pytest.skip(hint)
