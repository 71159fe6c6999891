"""DELETE /api/{user_id}/tasks/{task_id}: delete a task."""

from shared.api.handler import build_handler
from shared.api.routes.tasks import delete_task

handler = build_handler("TaskDeleted", delete_task)
