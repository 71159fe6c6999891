"""The Idempotency-Key request header: checked, fingerprinted, and how a replay is marked.

A write sent with a key is done once per user and key; the same request again within the
key's lifetime (``IDEMPOTENCY_KEY_TTL_SECONDS``, 24 h) answers what the first one did,
marked ``Idempotent-Replayed: true`` (see shared.tasks.idempotency).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel

from shared.core.errors import IdempotencyKeyInvalid
from shared.core.settings import get_settings
from shared.tasks.idempotency import Claim, Outcome
from shared.tasks.models import IDEMPOTENCY_KEYS_KEY_MAX_LENGTH, TaskPublic

__all__ = ["KEY_HEADER", "REPLAYED_HEADER", "IdempotencyDep", "KeyedRequest", "answer"]

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Visible ASCII only: no spaces, control characters or anything a proxy might re-encode.
_KEY = re.compile(rf"[!-~]{{1,{IDEMPOTENCY_KEYS_KEY_MAX_LENGTH}}}")


@dataclass(frozen=True)
class KeyedRequest:
    """A request that came with a valid key: the key and what identifies the request."""

    key: str
    method: str
    path: str

    def claim(self, user_id: str, body: BaseModel | None, status_code: int) -> Claim:
        """What the write statement checks and stores for this request and body, and the
        status the route answers when the write succeeds (a replay answers it again)."""
        sent = None if body is None else body.model_dump(mode="json", exclude_unset=True)
        request = json.dumps([self.method, self.path, sent], sort_keys=True)
        fingerprint = hashlib.sha256(request.encode()).hexdigest()
        ttl = get_settings().idempotency_key_ttl_seconds
        return Claim(user_id, self.key, fingerprint, ttl, status_code)


async def keyed_request(
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=KEY_HEADER,
            description=(
                "Optional. A client-made unique value (a UUID) for this write: retrying with "
                "the same key never writes twice and answers the first response again. "
                "1 to 255 visible ASCII characters; remembered for 24 hours."
            ),
        ),
    ] = None,
) -> KeyedRequest | None:
    """The request's key, or None when it has none; a malformed key is a 400."""
    if idempotency_key is None:
        return None
    if not _KEY.fullmatch(idempotency_key):
        raise IdempotencyKeyInvalid
    return KeyedRequest(idempotency_key, request.method, request.url.path)


IdempotencyDep = Annotated[KeyedRequest | None, Depends(keyed_request)]


def answer(response: Response, outcome: Outcome) -> TaskPublic:
    """The stored status and task; a replay says so in its headers."""
    response.status_code = outcome.status_code
    if outcome.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return outcome.task
