"""Start over as a new Lambda container would: no settings, engine or keys loaded yet."""

from __future__ import annotations

from collections.abc import Callable

from shared.adapters.scramp_client import forget_derived_keys
from shared.api.auth import reset_key_cache
from shared.core.settings import reset_settings
from shared.db import credentials
from shared.db.engine import reset_engine

# The ``configure`` fixture: set environment variables (any case), then a new container.
Configure = Callable[..., None]


def new_container() -> None:
    """Forget settings, then the engine (closing any kept connection), then every key.

    Settings first: the engine and the verifiers are rebuilt from the next settings read.
    The keys are auth's verifiers and fetched key sets, the derived SCRAM keys and any
    database password a rotation brought.
    """
    reset_settings()
    reset_engine()
    reset_key_cache()
    forget_derived_keys()
    credentials.forget()
