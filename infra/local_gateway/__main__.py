"""``python -m infra.local_gateway``: what ``make run`` serves."""

import sys

from infra.local_gateway.cli import main

sys.exit(main())
