"""`python -m notifier`: run the service with settings from the environment, or an operator command (cli.py).
Either way a wrong setting or an unreachable database ends in one line naming it (runtime/startup.py)."""

import sys

from notifier.cli import main, parser
from runtime import startup

if __name__ == "__main__":
    parser().parse_args()  # --help and usage errors before any connection
    serving = sys.argv[1:2] in ([], ["serve"])  # the operator commands need the database, not the broker
    sys.exit(startup.main("notifier", lambda settings: main(settings=settings), broker=serving))
