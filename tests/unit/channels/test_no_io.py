"""`channels` is the sans-I/O core: importing every module of it loads no I/O library.

Checked in a fresh interpreter (this process has long imported everything), so an import added anywhere in
the package, directly or through another package it imports, fails here. Imports under `TYPE_CHECKING` are
fine: they never run.
"""

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import channels

IO_MODULES = ["asyncio", "asyncpg", "redis", "socket", "uvicorn", "litestar", "websockets", "httpx", "hub",
              "persistence"]

PROBE = """
import importlib, json, pkgutil, sys
import channels
names = [m.name for m in pkgutil.iter_modules(channels.__path__, "channels.")]
for name in names:
    importlib.import_module(name)
print(json.dumps({"modules": names, "loaded": sorted(sys.modules)}))
"""


def test_importing_every_channels_module_loads_no_io_library() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True,
                         cwd=Path(channels.__file__).resolve().parent.parent)
    report = json.loads(out.stdout)
    assert len(report["modules"]) >= 15, report["modules"]
    loaded = set(report["loaded"])
    offenders = sorted(m for m in loaded if m.split(".")[0] in IO_MODULES)
    assert offenders == [], f"channels pulls in I/O modules: {offenders}"


def test_the_probe_sees_an_io_import() -> None:
    # The check above must be able to fail: the same probe, importing asyncio, reports it.
    probe = PROBE.replace("import channels\n", "import channels, asyncio\n", 1)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         cwd=Path(channels.__file__).resolve().parent.parent)
    assert "asyncio" in json.loads(out.stdout)["loaded"]


def test_every_channels_module_is_listed_by_pkgutil() -> None:
    on_disk = {p.stem for p in Path(channels.__file__).parent.glob("*.py") if p.stem != "__init__"}
    assert on_disk == {m.name for m in pkgutil.iter_modules(channels.__path__)}
