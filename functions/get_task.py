"""GET /api/{user_id}/tasks/{task_id}: fetch one task."""

from shared.api.handler import build_handler
from shared.api.routes.tasks import get_task

handler = build_handler("TaskFetched", get_task)
