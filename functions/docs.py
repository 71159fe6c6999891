"""GET /openapi.json and GET /docs: the whole API's OpenAPI document and docs page."""

from shared.api.handler import build_handler
from shared.api.routes.health import health
from shared.api.routes.tasks import ALL

handler = build_handler("DocsServed", health, *ALL, docs=True)
