"""`python -m backfill.emulator.sample`: see command.py."""

import sys

from backfill.emulator.sample.command import main

sys.exit(main())
