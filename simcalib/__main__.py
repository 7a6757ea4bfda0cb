"""``python -m simcalib`` runs the command line (same as the ``simcalib`` script)."""

import sys

from simcalib.cli import main

if __name__ == "__main__":
    sys.exit(main())
