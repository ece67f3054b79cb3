"""`python -m dnslb`: the `dnslb` command."""

import sys

from dnslb.app.cli import main

sys.exit(main())
