"""``python -m connect_harness`` runs the CLI."""

import sys

from connect_harness.cli import main

sys.exit(main())
