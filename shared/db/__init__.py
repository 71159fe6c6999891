"""Reaching Neon: URL translation, TLS, the pg8000 driver, connecting and the engine."""
