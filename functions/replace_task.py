"""PUT /api/{user_id}/tasks/{task_id}: update a task."""

from shared.api.handler import build_handler
from shared.api.routes.tasks import replace_task

handler = build_handler("TaskReplaced", replace_task)
