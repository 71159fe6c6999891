"""POST /api/{user_id}/tasks: create a task."""

from shared.api.handler import build_handler
from shared.api.routes.tasks import create_task

handler = build_handler("TaskCreated", create_task)
