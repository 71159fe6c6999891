"""Tooling: the local stack and gateway, packaging, deployment, code generation."""
