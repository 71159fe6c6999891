"""authorize(): a token grants access to its own user's data only."""

from __future__ import annotations

import pytest

from shared.api.auth import authorize
from shared.core.errors import PermissionDenied


def test_own_user_id_is_allowed() -> None:
    # GIVEN a path naming the token's subject
    # WHEN / THEN access is allowed
    authorize("user-1", "user-1")


@pytest.mark.parametrize("path_user_id", ["user-2", "", "USER-1", "user-1 "])
def test_other_user_id_is_denied(path_user_id: str) -> None:
    # GIVEN a path naming anyone but the token's subject
    # WHEN / THEN access is denied with a 403
    with pytest.raises(PermissionDenied) as caught:
        authorize("user-1", path_user_id)
    assert caught.value.status_code == 403
