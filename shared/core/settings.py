"""The one settings object, read from the environment (and a local ``.env`` file).

A pydantic model filled from ``os.environ`` rather than pydantic-settings: that package
loads its CLI, cloud-secret and dotenv sources (and argparse) with it: about 15 ms of CPU
per cold start, 2.8 % of a task handler's import and 3.3 % of health's, for fifteen
scalar variables (docs/design.md: the trick nearest the 3 % line). The
precedence is the one pydantic-settings had: keyword arguments, then the environment,
then ``.env``, then the defaults; names are matched case-insensitively and empty values
count as unset. python-dotenv is imported only when a ``.env`` file is there, which a
Lambda package never has.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from shared.core.errors import ConfigurationError

__all__ = [
    "ENV_FILE",
    "ENV_FILE_CONTEXT",
    "Settings",
    "get_settings",
    "reset_settings",
]

ENV_FILE = Path(".env")  # relative to the working directory, as pydantic-settings read it
# model_validate(..., context={ENV_FILE_CONTEXT: None}) reads the environment only.
ENV_FILE_CONTEXT = "env_file"


class Settings(BaseModel):
    """Every knob of the service; field names map to upper-case environment variables."""

    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True, frozen=True)

    database_url: SecretStr | None = None
    database_url_direct: SecretStr | None = None
    # The Secrets Manager secret (name or ARN) the URLs were deployed from, in Secrets
    # Manager mode: read again when the password is refused (shared/db/credentials.py).
    database_url_secret: str | None = None
    db_connect_timeout: float = Field(default=5.0, gt=0, le=60)
    db_connect_attempts: int = Field(default=3, ge=1, le=10)
    db_query_timeout: float = Field(default=10.0, gt=0, le=300)
    db_reuse_connection: bool = False
    # How long an Idempotency-Key is remembered (and a retry with it replays): 24 h.
    idempotency_key_ttl_seconds: int = Field(default=86_400, ge=60, le=30 * 86_400)

    better_auth_url: str | None = None
    better_auth_secret: SecretStr | None = None
    auth_jwks_url: str | None = None
    auth_issuer: str | None = None
    auth_audience: str | None = None
    auth_algorithms: str = "EdDSA"
    # While the JWKS endpoint fails, the keys a container holds keep verifying tokens until
    # they are this old (default 6 h; docs/design.md: Signing keys); then every token is a 503.
    # At least the key set's 5 minute lifespan (shared/api/auth.py), at most 7 days.
    auth_keys_max_stale_seconds: int = Field(default=21_600, ge=300, le=7 * 86_400)

    @model_validator(mode="before")
    @classmethod
    def _from_environment(cls, given: Any, info: ValidationInfo) -> Any:
        """Fill what the caller did not give from the environment and ``.env``."""
        if not isinstance(given, dict):
            return given
        env_file = (info.context or {}).get(ENV_FILE_CONTEXT, ENV_FILE)
        found = _environment(env_file)
        return {name: found[name] for name in cls.model_fields if name in found} | given


def _environment(env_file: Path | None) -> dict[str, str]:
    """The non-empty variables of the environment and of ``env_file`` (if it exists), the
    environment's winning, under lower-case names."""
    found: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        from dotenv import dotenv_values  # only where a .env file is: never on Lambda

        found = _non_empty(dotenv_values(env_file))
    return found | _non_empty(os.environ)


def _non_empty(variables: Mapping[str, str | None]) -> dict[str, str]:
    return {name.lower(): value for name, value in variables.items() if value}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Load the settings once per process; bad values become one clear start-up error."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigurationError(f"invalid configuration: {problems}") from None


def reset_settings() -> None:
    """Forget the loaded settings: the next ``get_settings()`` reads the environment again.

    For tests and tools that change the environment; a Lambda container never needs it.
    """
    get_settings.cache_clear()
