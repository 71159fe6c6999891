"""The role's password and its SCRAM-SHA-256 secret in pg_authid's format."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from infra.local.neon_local.files import Layout, write

SCRAM_ITERATIONS = 4096


def _scram_keys(password: str, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    return hashlib.sha256(client_key).digest(), server_key


def scram_secret(password: str) -> str:
    """pg_authid format; token_urlsafe passwords are ASCII so SASLprep is a no-op."""
    salt = secrets.token_bytes(16)
    stored, server = _scram_keys(password, salt, SCRAM_ITERATIONS)
    b64 = base64.b64encode
    return (
        f"SCRAM-SHA-256${SCRAM_ITERATIONS}:{b64(salt).decode()}$"
        f"{b64(stored).decode()}:{b64(server).decode()}"
    )


def scram_matches(secret: str, password: str) -> bool:
    match = re.fullmatch(r"SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)", secret.strip())
    if not match:
        return False
    salt = base64.b64decode(match[2])
    stored, _ = _scram_keys(password, salt, int(match[1]))
    return hmac.compare_digest(base64.b64encode(stored).decode(), match[3])


def ensure_password(layout: Layout) -> str:
    """The role's password, made up (and kept in ``<state>/password``, 0600) on first use."""
    if layout.password.exists():
        return layout.password.read_text().strip()
    password = secrets.token_urlsafe(24)
    write(layout.password, password + "\n", service=False)
    return password
