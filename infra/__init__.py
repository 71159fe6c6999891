"""Tooling, one folder per audience (README: Layout):

* ``local/``: what ``make run`` uses: the Neon-like stack, the API Gateway stand-in, the
  Lambda runtime emulator.
* ``packaging/``: lock files, layers and function zips, and their checks.
* ``deploy/``: deploying a stage for operators, and the offline rehearsal.
* ``codegen/``: the models and revisions generated from specs/schema.toml.
* ``serverless/``: serverless.yml read (routes, variables, environments) and its osls plugin.

Each tool runs from the repository root as ``python -m infra.<folder>.<tool>``.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The repository's root directory."""
