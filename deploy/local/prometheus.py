"""Debian's Prometheus as our child, scraping the local stack with the checked-in rules.

The configuration is deploy/prometheus/prometheus.yml with only the targets (static 127.0.0.1 and the
stack's ports instead of the DNS discovery of the services' host names) and the intervals changed, so what runs locally
is what a deployment runs. Data lives in a directory of the caller's; nothing is kept.
"""

from __future__ import annotations

import asyncio
import copy
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import yaml

from deploy.local.processes import free_port, spawn, stop_process, wait_until_ready

CONFIG_DIR = Path(__file__).parents[1] / "prometheus"
DEFAULT_PORT = 9090


class PrometheusStartError(RuntimeError):
    pass


def local_config(
    endpoints: Mapping[str, str], *, scrape_interval: str = "15s", extra_targets: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The checked-in config with each job's target replaced by the service's local address, plus a static job
    for each of `extra_targets` (job name -> host:port: the broker's memory, deploy/local/broker_memory.py)."""
    config = copy.deepcopy(yaml.safe_load((CONFIG_DIR / "prometheus.yml").read_text()))
    config["global"].update(
        scrape_interval=scrape_interval, evaluation_interval=scrape_interval, scrape_timeout=scrape_interval
    )
    config["rule_files"] = [str(CONFIG_DIR / pattern) for pattern in config["rule_files"]]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    if set(endpoints) - set(jobs):
        raise ValueError(f"no scrape job for {sorted(set(endpoints) - set(jobs))} in {CONFIG_DIR / 'prometheus.yml'}")
    config["scrape_configs"] = []
    for name, url in endpoints.items():
        job = jobs[name]
        # The deployment finds instances by DNS; locally each service is one process on a known port.
        # relabel_configs (the `service` label) are kept as they are.
        job.pop("dns_sd_configs", None)
        job["static_configs"] = [{"targets": [urlparse(url).netloc]}]
        config["scrape_configs"].append(job)
    for name, target in (extra_targets or {}).items():
        config["scrape_configs"].append({"job_name": name, "static_configs": [{"targets": [target]}]})
    return config


class LocalPrometheus:
    """`async with LocalPrometheus(dir, stack.endpoints) as prom:` then `await prom.query("up")`."""

    def __init__(
        self,
        directory: Path,
        endpoints: Mapping[str, str],
        *,
        port: int | None = DEFAULT_PORT,
        scrape_interval: str = "15s",
        binary: str | None = None,
        extra_targets: Mapping[str, str] | None = None,
    ) -> None:
        self.directory = Path(directory).resolve()
        self.config = local_config(endpoints, scrape_interval=scrape_interval, extra_targets=extra_targets)
        self.port = port or free_port()
        self.binary = binary or shutil.which("prometheus")
        self.log_file = self.directory / "prometheus.log"
        self._proc: Any = None
        self._http = httpx.AsyncClient(base_url=self.url, timeout=5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        if self.binary is None:
            raise PrometheusStartError("prometheus is not installed: sudo apt-get install -y prometheus")
        self.directory.mkdir(parents=True, exist_ok=True)
        config_file = self.directory / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(self.config, sort_keys=False))
        self._proc = spawn(
            [
                self.binary,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={self.directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            log_file=self.log_file,
        )

        async def ready() -> None:
            (await self._http.get("/-/ready")).raise_for_status()

        await wait_until_ready(
            self._proc,
            ready,
            what="prometheus",
            where=self.url,
            log_file=self.log_file,
            timeout=30,
            retry_on=(httpx.HTTPError,),
            error=PrometheusStartError,
        )

    async def stop(self) -> None:
        if self._proc is not None:
            await stop_process(self._proc, timeout=10)
            self._proc = None
        await self._http.aclose()

    async def __aenter__(self) -> LocalPrometheus:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query through the HTTP API: the result vector (`metric` labels and `value`)."""
        answer = (await self._http.get("/api/v1/query", params={"query": promql})).json()
        if answer.get("status") != "success":
            raise RuntimeError(f"query {promql!r} failed: {answer.get('error')}")
        return answer["data"]["result"]

    async def value(self, promql: str) -> float | None:
        """The single value of a query that aggregates to one series; None when it has none."""
        result = await self.query(promql)
        return float(result[0]["value"][1]) if result else None

    async def wait_for_targets(self, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Until every job was scraped and is up: Prometheus applies new targets only every 5 s, so the
        first scrape comes several seconds after start. Returns the `up` series."""
        deadline = asyncio.get_running_loop().time() + timeout
        jobs = {job["job_name"] for job in self.config["scrape_configs"]}
        while True:
            up = await self.query("up")
            if {s["metric"]["job"] for s in up if s["value"][1] == "1"} == jobs:
                return up
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"Prometheus did not scrape every service within {timeout:.0f} s: {up}")
            await asyncio.sleep(0.25)

    async def rules(self) -> list[dict[str, Any]]:
        """Every loaded rule with its health and last error (alerting and recording)."""
        answer = (await self._http.get("/api/v1/rules")).json()
        return [rule for group in answer["data"]["groups"] for rule in group["rules"]]


#: What `make observe` prints and the Prometheus test checks moved: (what, PromQL).
KEY_SERIES = (
    ("services up", 'sum(up{job=~"issuer|core|customs_gateway|claims_worker|notifier"})'),
    ("carnets issued", "sum(ata_carnets_issued_total)"),
    ("declarations (tokens issued)", 'sum(ata_declarations_total{outcome="token_issued"})'),
    ("customs decisions recorded", "sum(ata_transactions_recorded_total)"),
    ("declaration -> decision, count", "sum(ata_declaration_to_decision_seconds_count)"),
    ("webhook deliveries", 'sum(ata_deliveries_total{outcome="delivered"})'),
    ("messages consumed", "sum(ata_messages_handled_total)"),
    ("outbox backlog, all services", "sum(ata_outbox_backlog)"),
    ("consumer lag, all groups", "sum(ata_consumer_lag_messages)"),
    ("dead letters held", "sum(ata_dead_letter_messages)"),
    ("slowest scrape, seconds", "max(scrape_duration_seconds)"),
)


async def key_series(prometheus: LocalPrometheus) -> dict[str, float | None]:
    return {what: await prometheus.value(promql) for what, promql in KEY_SERIES}
