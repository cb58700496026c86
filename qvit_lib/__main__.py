import sys

from qvit_lib.cli import main

sys.exit(main())
