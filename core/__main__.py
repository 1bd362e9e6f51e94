"""`python -m core`: run the service with settings from the environment."""

from core.app import build
from runtime.settings import Settings

if __name__ == "__main__":
    build(Settings()).run()
