"""GET /api/{user_id}/tasks: list the user's tasks."""

from shared.api.handler import build_handler
from shared.api.routes.tasks import list_tasks

handler = build_handler("TasksListed", list_tasks)
