"""PATCH /api/{user_id}/tasks/{task_id}/complete: toggle or set completed."""

from shared.api.handler import build_handler
from shared.api.routes.tasks import complete_task

handler = build_handler("TaskCompletionChanged", complete_task)
