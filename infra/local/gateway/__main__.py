"""``python -m infra.local.gateway``: what ``make run`` serves."""

import sys

from infra.local.gateway.cli import main

sys.exit(main())
