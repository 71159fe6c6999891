"""Routes under ``/api/{user_id}``: the caller is checked before anything reads the body.

FastAPI reads and decodes a route's body before it solves the route's dependencies, so a
token dependency alone answers a malformed, undecodable or schema-invalid body (400 or
422) before it says 401 or 403. ``OwnerRoute`` authenticates the ``Authorization`` header
and authorizes the path's ``user_id`` first, once per request, and hands the proven user
id to the endpoint's dependencies (``owner``); only then does FastAPI touch the body.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from shared.core.settings import get_settings

__all__ = ["USER_ID", "OwnerRoute", "owner"]

USER_ID = "user_id"  # the path parameter naming whose data a route touches
_PROVEN = "owner"  # request.state attribute: the user id the token proved, and owns the path

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class OwnerRoute(APIRoute):
    """An APIRoute answering 401/403 before FastAPI reads, decodes or validates the body."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        if USER_ID not in self.param_convertors:
            raise ValueError(f"{path}: an OwnerRoute needs a {{{USER_ID}}} path parameter")

    def get_route_handler(self) -> Handler:
        handle = super().get_route_handler()

        async def owned(request: Request) -> Response:
            setattr(request.state, _PROVEN, _prove(request))
            return await handle(request)

        return owned


def owner(request: Request) -> str:
    """The path's user id, which ``OwnerRoute`` proved is the caller's own."""
    proven = getattr(request.state, _PROVEN, None)
    if not isinstance(proven, str):  # a route declared without OwnerRoute: never serve it
        raise RuntimeError(f"{request.url.path}: the route is not an OwnerRoute")
    return proven


def _prove(request: Request) -> str:
    # Imported here, as by the dependencies: the docs function builds these routes but
    # never serves them, and need not load the token stack (PyJWT, cryptography).
    from shared.api.auth import authenticate, authorize

    user_id = authenticate(request.headers.get("authorization"), get_settings())
    authorize(user_id, request.path_params[USER_ID])
    return user_id
