"""Apache Kafka's jars: fetched from Maven Central once (deploy/kafka/pom.xml, `mvn dependency:copy-dependencies`)
into a cache outside the worktree (~/.cache/ata-carnets/kafka/<version>, or ATA_KAFKA_JARS), so later runs are
offline; and what to install where Java or Maven is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from deploy.kafka_settings import KAFKA_VERSION

POM = Path(__file__).resolve().parents[1] / "kafka" / "pom.xml"
INSTALL_HINT = "apt-get install -y openjdk-17-jre-headless maven"


class KafkaUnavailable(RuntimeError):
    """No Java, or no jars and no Maven to fetch them: the message says what to install."""


def jar_dir() -> Path:
    base = os.environ.get("ATA_KAFKA_JARS") or Path.home() / ".cache" / "ata-carnets" / "kafka"
    return Path(base) / KAFKA_VERSION


def missing_tools(*, fetch: bool) -> str | None:
    """Why Apache Kafka cannot run here (None: it can); `fetch`: the jars are not cached yet."""
    needed = ["java"] + (["mvn"] if fetch else [])
    missing = [tool for tool in needed if shutil.which(tool) is None]
    if missing:
        return f"Apache Kafka needs {' and '.join(missing)}: {INSTALL_HINT}"
    return None


def fetch_jars() -> Path:
    """The broker's jars, fetched with Maven the first time; the cache is complete only once marked so."""
    target = jar_dir()
    if (target / ".complete").exists():
        return target
    reason = missing_tools(fetch=True)
    if reason:
        raise KafkaUnavailable(reason)
    staging = target.with_name(target.name + f".partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    result = subprocess.run(
        ["mvn", "-q", "-B", "-f", str(POM), "dependency:copy-dependencies", f"-DoutputDirectory={staging}"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if result.returncode != 0:
        raise KafkaUnavailable(
            f"mvn could not fetch Kafka {KAFKA_VERSION}:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    (staging / ".complete").touch()
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target
