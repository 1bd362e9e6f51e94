"""`python -m customs_gateway`: run the service with settings from the environment (one line naming the setting when it cannot start)."""

from customs_gateway.app import build
from runtime import startup

if __name__ == "__main__":
    raise SystemExit(startup.main("customs_gateway", lambda settings: build(settings).run()))
