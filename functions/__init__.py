"""Lambda entry points: one thin module per route, plus the one-shot jobs."""
