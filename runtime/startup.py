"""`python -m <service>`: settings from the environment, a check that the database and the broker answer, then serve.

A start-up that cannot work ends in one line on stderr naming the environment variable and what is
wrong, and exit status 1, instead of a traceback an operator must read from the bottom up:

    core: cannot start: ATA_DB_POOL_MAX: Input should be a valid integer
    core: cannot start: DATABASE_URL: cannot connect to the database at db:5432/ata (ConnectionRefusedError: ...)
    core: cannot start: KAFKA_BOOTSTRAP_SERVERS: cannot reach the Kafka broker at kafka:9092 (KafkaConnectionError: ...)
    core: cannot start: ATA_WALLET_ISSUER_PUBLIC_KEY_PATH: the holder API needs the wallet identity provider's ...

The database and the broker are tried once before the HTTP server starts (`preflight`), each within
PREFLIGHT_TIMEOUT_S; the service then connects as usual. No value of a setting is printed (some are secrets).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from runtime.settings import Settings

PREFLIGHT_TIMEOUT_S = 15.0
REASON_MAX = 200


class StartupError(RuntimeError):
    """What stops a service from starting, as `<ENVIRONMENT VARIABLE>: <what is wrong>`."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


def env_name(field: str) -> str:
    """The environment variable a Settings field is read from (its first alias, else ATA_<FIELD>)."""
    info = Settings.model_fields.get(field)
    choices = getattr(info.validation_alias, "choices", None) if info is not None else None
    if choices:
        return str(choices[0])
    return Settings.model_config["env_prefix"] + field.upper() if info is not None else field.upper()


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "no detail"
    return f"{type(exc).__name__}: {text[:REASON_MAX]}"


def settings_problem(exc: ValidationError) -> StartupError:
    """The first wrong setting of a failed Settings() (pydantic names the field or its alias)."""
    first = exc.errors()[0]
    where = str(first["loc"][0]) if first["loc"] else "settings"
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return StartupError(env_name(where), f"{first['msg']}{more}")


def database_unreachable(dsn: str, exc: BaseException) -> StartupError:
    try:
        parts = urlsplit(dsn)
        where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or ''}"
    except ValueError:
        where = "the configured address"
    return StartupError("DATABASE_URL", f"cannot connect to the database at {where} ({_reason(exc)})")


def broker_unreachable(servers: str, exc: BaseException) -> StartupError:
    return StartupError(
        "KAFKA_BOOTSTRAP_SERVERS", f"cannot reach the Kafka broker at {servers[:REASON_MAX]} ({_reason(exc)})"
    )


def configuration_problem(exc: Exception) -> StartupError | None:
    """Configuration errors a service's build raises, by the variable that fixes them; None for anything else."""
    from runtime.kafka_security import KafkaSecurityError
    from tokens.trustlist import TrustListError
    from tokens.wallet_auth import WalletConfigError

    known = {
        WalletConfigError: "ATA_WALLET_ISSUER_PUBLIC_KEY_PATH",
        TrustListError: "ATA_TRUST_ANCHOR_PUBLIC_KEY_PATH",
        KafkaSecurityError: "ATA_KAFKA_SECURITY_PROTOCOL",
    }
    variable = next((v for kind, v in known.items() if isinstance(exc, kind)), None)
    return StartupError(variable, " ".join(str(exc).split())) if variable else None


async def preflight(settings: Settings, *, broker: bool = True, timeout: float | None = None) -> None:
    """One connection to the database and, if `broker`, one to the Kafka cluster; StartupError naming the failing one."""
    import asyncpg

    timeout = timeout or PREFLIGHT_TIMEOUT_S
    try:
        conn = await asyncio.wait_for(asyncpg.connect(settings.database_url), timeout)
        await conn.close()
    except (OSError, TimeoutError, ValueError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise database_unreachable(settings.database_url, exc) from exc
    if broker:
        await _ping_broker(settings, timeout)


async def _ping_broker(settings: Settings, timeout: float) -> None:
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    from runtime.kafka_security import client_options

    options: dict[str, Any] = client_options(settings)
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers.split(","),
        client_id="ata-preflight",
        request_timeout_ms=int(timeout * 1000),
        **options,
    )
    try:
        await asyncio.wait_for(admin.start(), timeout)
    except (KafkaError, OSError, TimeoutError) as exc:
        raise broker_unreachable(settings.kafka_bootstrap_servers, exc) from exc
    finally:
        await admin.close()


def main(
    name: str, serve: Callable[[Settings], int | None], *, broker: bool = True, load: Callable[[], Settings] = Settings
) -> int:
    """Load the settings, check the database (and the broker), then `serve(settings)`; one line and 1 on a failure."""
    try:
        settings = load()
        asyncio.run(preflight(settings, broker=broker))
        return serve(settings) or 0
    except ValidationError as exc:
        problem = settings_problem(exc)
    except StartupError as exc:
        problem = exc
    except Exception as exc:
        found = configuration_problem(exc)
        if found is None:
            raise
        problem = found
    print(f"{name}: cannot start: {problem}", file=sys.stderr)
    return 1
