"""`python -m claims_worker`: run the service with settings from the environment."""

from claims_worker.app import build
from runtime.settings import Settings

if __name__ == "__main__":
    build(Settings()).run()
