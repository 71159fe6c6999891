"""Dependency layers in the packaged template: one per dependency set, on every function.

A layer's description names the hash of its locked requirements and its S3 key its
build key (infra/packaging/layer_build.py): a second packaging with the same locks must produce
the same LayerVersion resources, so CloudFormation publishes no new version and the
plugin finds the object already in the bucket.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest

from infra import ROOT
from infra.packaging import layer_build, locks
from infra.serverless.routes import document
from tests.support.packaging import Packaged, osls_env, package

LAYER = "AWS::Lambda::LayerVersion"
_DESCRIPTION = re.compile(r"^requirements-(?P<set>\w+)\.lock sha256:(?P<hash>[0-9a-f]{16})$")
_KEY = re.compile(r"/code-artifacts/layer-(?P<set>\w+)-[0-9a-f]{16}\.zip$")


def layer_set(layer: dict[str, Any]) -> str:
    """The dependency set a LayerVersion resource holds, from its description."""
    match = _DESCRIPTION.match(layer["Properties"]["Description"])
    assert match is not None, layer["Properties"]["Description"]
    return match["set"]


def expected_sets(function: str) -> list[str]:
    """The sets serverless.yml's custom.build gives a function, base layer first."""
    build = document()["custom"]["build"]
    own = "jobs" if function in build["jobs"] else "docs" if function in build["docs"] else "api"
    base = layer_build.BASES.get(own)
    return [own] if base is None else [base, own]


@pytest.mark.parametrize("fixture", ["arm64", "x86_64"])
def test_every_function_runs_on_its_sets_layers(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    # GIVEN a packaged template
    packaged: Packaged = request.getfixturevalue(fixture)
    layers = packaged.of_type(LAYER)
    # WHEN each function's layers are followed to their LayerVersion resources
    attached = {
        name: [layer_set(layers[ref["Ref"]]) for ref in props.get("Layers", [])]
        for name, props in packaged.configs.items()
    }
    # THEN each function has its dependency set's layer (docs: the api layer, then its own)
    assert attached == {name: expected_sets(name) for name in packaged.configs}
    # AND every layer is one set's, for python3.12 on this architecture, kept with the
    # deployment's artifacts under a key naming its set
    assert sorted(layer_set(layer) for layer in layers.values()) == ["api", "docs", "jobs"]
    for layer in layers.values():
        props = layer["Properties"]
        assert props["CompatibleRuntimes"] == ["python3.12"]
        assert props["CompatibleArchitectures"] == [packaged.arch]
        key = _KEY.search(props["Content"]["S3Key"])
        assert key is not None and key["set"] == layer_set(layer), props["Content"]


def test_a_layer_is_versioned_by_its_locked_requirements(arm64: Packaged) -> None:
    # GIVEN the layers' descriptions
    for layer in arm64.of_type(LAYER).values():
        match = _DESCRIPTION.match(layer["Properties"]["Description"])
        assert match is not None
        # WHEN the lock files they name are hashed without comments (their base's too)
        digest = hashlib.sha256()
        for name in (match["set"], layer_build.BASES.get(match["set"])):
            if name is not None:
                lock = Path(ROOT, locks.SETS[name].lock).read_text()
                digest.update(locks.without_comments(lock).encode() + b"\0")
        # THEN the description carries that hash: a changed lock is a new layer version
        assert match["hash"] == digest.hexdigest()[:16]


def test_packaging_again_with_the_same_locks_changes_no_layer(
    arm64: Packaged, tmp_path: Path
) -> None:
    # GIVEN the session's arm64 template and its layer zips' bytes
    before = {path: path.read_bytes() for name in arm64.zips for path in arm64.layer_zips(name)}
    # WHEN the same stage is packaged again, nothing changed
    again = package("arm64", tmp_path / "again", osls_env())
    # THEN the LayerVersion resources are identical (CloudFormation publishes nothing new,
    # the upload finds its key taken) and the zips are the same bytes, from the cache
    assert again.of_type(LAYER) == arm64.of_type(LAYER)
    assert {path: path.read_bytes() for path in before} == before
