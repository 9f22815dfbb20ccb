"""`python -m standin.sample`: see command.py."""

import sys

from standin.sample.command import main

sys.exit(main())
