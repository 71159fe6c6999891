"""GET /health: service and database status (no auth)."""

from shared.api.handler import build_handler
from shared.api.routes.health import health

handler = build_handler("HealthChecked", health)
