"""`python -m customs_gateway`: run the service with settings from the environment."""

from customs_gateway.app import build
from runtime.settings import Settings

if __name__ == "__main__":
    build(Settings()).run()
