"""Routes, one APIRouter each, so every Lambda function mounts only its own."""
