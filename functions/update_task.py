"""PATCH /api/{user_id}/tasks/{task_id}: partially update a task."""

from shared.api.handler import build_handler
from shared.api.routes.tasks import update_task

handler = build_handler("TaskUpdated", update_task)
