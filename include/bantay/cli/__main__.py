"""``python -m bantay.cli``."""

import sys

from bantay.cli import main

sys.exit(main())
