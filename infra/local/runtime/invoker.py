"""`make run LAMBDA_RUNTIME=rie`: the local gateway's functions as packaged, under the runtime.

Instead of importing the handlers into the gateway's process, each HTTP function's zip
(built for this machine's architecture into .build/<arch>/ by `make package`) is
unpacked into .build/rie/<function>/ and hosted by its own warm emulated Lambda
runtime (infra/local/runtime/fleet.py), started on the function's first request, with the
environment serverless.yml gives it, resolved locally (infra/serverless/function_env.py) when that
first request arrives, so what the gateway sets up beforehand (BETTER_AUTH_URL) reaches it.
"""

from __future__ import annotations

from pathlib import Path

from infra import ROOT
from infra.local.runtime import emulator
from infra.local.runtime.fleet import Fleet, FunctionSpec, unpack, unpack_layers
from infra.packaging import package_build
from infra.serverless.function_env import environment, variables
from infra.serverless.routes import document, function

__all__ = ["MODES", "packaged_fleet"]

MODES = ("workers", "rie")  # LAMBDA_RUNTIME's values; workers (workers.py) is the default
WORK = ROOT / ".build" / "rie"


def packaged_fleet(stage: str, build_dir: Path | None = None) -> Fleet:
    """A fleet serving the zips in ``build_dir`` (default .build/<this machine's arch>)."""
    arch = emulator.host_arch()
    zips = build_dir or ROOT / ".build" / arch
    resolver = variables(stage)
    service = str(resolver.resolve("${self:service}"))

    opts: dict[tuple[Path, ...], Path] = {}

    def spec_for(name: str) -> FunctionSpec:
        archive = zips / f"{name}.zip"
        if not archive.is_file():
            raise FileNotFoundError(f"{archive} is missing: run `make package PACKAGE_ARCH={arch}`")
        declared = document()["functions"][name]
        layers = tuple(package_build.layer_artifact(zips, ref["Ref"]) for ref in declared["layers"])
        if layers not in opts:  # one /opt per set of layers, unpacked once: runtimes share it
            opts[layers] = unpack_layers(layers, WORK / ("opt-" + "-".join(p.stem for p in layers)))
        return FunctionSpec(
            name=f"{service}-{stage}-{name}",
            handler=function(name).handler,
            code=unpack(archive, WORK / name),
            environment=environment(name, resolver).values,
            memory_mb=int(declared.get("memorySize", 1024)),
            timeout_s=int(declared.get("timeout", 25)),
            opt=opts[layers],
        )

    return Fleet(spec_for, arch, echo=True)  # the functions' logs on the gateway's console
