"""Run the fake IB Gateway with ``python -m mocks.fake_ib_gateway``."""

import sys

from .cli import main

sys.exit(main())
