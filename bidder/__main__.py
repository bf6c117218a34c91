"""``python -m bidder`` = the ``bidder`` command."""

import sys

from bidder.cli import main

sys.exit(main())
