"""`python -m core`: run the service with settings from the environment (one line naming the setting when it cannot start)."""

from core.app import build
from runtime import startup

if __name__ == "__main__":
    raise SystemExit(startup.main("core", lambda settings: build(settings).run()))
