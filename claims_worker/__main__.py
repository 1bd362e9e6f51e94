"""`python -m claims_worker`: run the service with settings from the environment (one line naming the setting when it cannot start)."""

from claims_worker.app import build
from runtime import startup

if __name__ == "__main__":
    raise SystemExit(startup.main("claims_worker", lambda settings: build(settings).run()))
