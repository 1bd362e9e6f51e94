"""`python -m notifier`: run the service with settings from the environment, or an operator command (cli.py)."""

import sys

from notifier.cli import main

if __name__ == "__main__":
    sys.exit(main())
