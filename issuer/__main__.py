"""`python -m issuer`: run the service with settings from the environment (one line naming the setting when it cannot start)."""

from issuer.app import build
from runtime import startup

if __name__ == "__main__":
    raise SystemExit(startup.main("issuer", lambda settings: build(settings).run()))
