"""Tooling: the local stack and gateway, packaging, deployment, code generation.

Each tool runs from the repository root as ``python -m infra.<tool>``.
"""
