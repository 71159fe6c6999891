"""Every function's package knows the schema revision it was built for (/health checks it)."""

from __future__ import annotations

import zipfile

from infra import ROOT
from infra.deploy import deployer
from shared.db.schema_revision import BUILT_FILE
from tests.support.packaging import Packaged


def test_each_package_carries_the_newest_revision(arm64: Packaged) -> None:
    # GIVEN every function's zip (the API's leave shared/jobs and its migrations out)
    entry = BUILT_FILE.relative_to(ROOT).as_posix()
    # WHEN the revision file written at build time is read from each
    found = {
        name: zipfile.ZipFile(path).read(entry).decode().strip()
        for name, path in arm64.zips.items()
    }
    # THEN each holds the head revision the deploy makes migrate reach
    assert found == dict.fromkeys(arm64.zips, deployer.head_revision())
