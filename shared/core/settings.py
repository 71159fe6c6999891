"""The one settings object, read from the environment (and a local ``.env`` file)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.core.errors import ConfigurationError


class Settings(BaseSettings):
    """Every knob of the service; field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_ignore_empty=True,
        extra="ignore",
        hide_input_in_errors=True,
        frozen=True,
    )

    database_url: SecretStr | None = None
    database_url_direct: SecretStr | None = None
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
