"""``python -m qvit_lib``: the command line (:mod:`qvit_lib.cli`)."""

import sys

from qvit_lib.cli import main

if __name__ == "__main__":
    sys.exit(main())
