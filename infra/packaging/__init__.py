"""Packaging: the lock files, the Lambda layers and each function's zip, and their checks."""
