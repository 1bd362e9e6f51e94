"""deploy/Dockerfile without Docker: two stages, every installed package copied, a numeric
non-root user, `python -m <service>` as the entrypoint (issue 8 item 5). The build itself needs a Docker host."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]
DOCKERFILE = (ROOT / "deploy" / "Dockerfile").read_text()


def instructions(stage: str) -> list[str]:
    """The lines of one stage, continuation lines joined."""
    text = DOCKERFILE.replace("\\\n", " ")
    parts = re.split(r"^FROM .*$", text, flags=re.M)
    names = re.findall(r"^FROM \S+ AS (\S+)$", text, re.M)
    return [line.strip() for line in parts[names.index(stage) + 1].splitlines() if line.strip() and not line.startswith("#")]


def test_every_package_pyproject_installs_is_copied_into_the_build():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = {line.split()[1] for line in instructions("build") if line.startswith("COPY ")}
    assert packages <= copied, f"not copied: {packages - copied}"
    assert all((ROOT / p).is_dir() for p in packages)


def test_runtime_stage_has_a_numeric_user_and_python_m():
    runtime = instructions("runtime")
    user = [line.split()[1] for line in runtime if line.startswith("USER ")]
    assert user and all(u.split(":")[0].isdigit() and u.split(":")[0] != "0" for u in user)
    entrypoint = [json.loads(line.removeprefix("ENTRYPOINT ")) for line in runtime if line.startswith("ENTRYPOINT ")]
    assert entrypoint == [["python", "-m"]]
    assert any(line.startswith("COPY --from=build /opt/ata /opt/ata") for line in runtime)
    assert not any(line.startswith(("COPY . ", "ADD ")) for line in runtime)
