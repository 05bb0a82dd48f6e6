"""``python -m skautodl``: the same as the ``skautodl`` command."""

import sys

from skautodl.cli import main

sys.exit(main())
