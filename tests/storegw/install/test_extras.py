"""Each side installs alone: the built wheel's [edge] extra in one fresh virtual environment
runs `storegw edge` and `storegw sim`, its [hub] extra in another runs `storegw hub` (migrated
from the wheel's own migrations), with no source tree on the path — and neither drags in the
other side's dependencies. Dependencies come from PyPI through pip's cache."""

from __future__ import annotations

import subprocess
import venv
from pathlib import Path

import httpx
import pytest

from rig.waiting import wait_until
from tests.storegw.install.installing import clean_env, run, serve

pytestmark = pytest.mark.slow

HUB_ONLY = ("fastapi", "sqlalchemy", "alembic", "uvicorn", "psycopg")
EDGE_ONLY = ("usb", "evdev", "escpos", "aiohttp", "serial")


def installed(py: Path, modules: tuple[str, ...], cwd: Path, env: dict[str, str]) -> list[str]:
    code = (
        "import importlib.util as u, sys; "
        "print(' '.join(m for m in sys.argv[1:] if u.find_spec(m)))"
    )
    return run([str(py), "-c", code, *modules], cwd, env).split()


def test_each_side_installs_and_starts_from_its_own_extra(tmp_path: Path, wheel: Path) -> None:
    env = clean_env()
    outside = tmp_path / "elsewhere"
    outside.mkdir()

    # both environments at once: the two pip runs mostly wait on the network
    installs = {}
    for side in ("edge", "hub"):
        target = tmp_path / f"venv-{side}"
        venv.EnvBuilder(with_pip=True).create(target)
        cmd = [str(target / "bin" / "python"), "-m", "pip", "install", "-q",
               "--disable-pip-version-check", f"{wheel}[{side}]"]  # fmt: skip
        installs[side] = subprocess.Popen(
            cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
    for side, proc in installs.items():
        out, _ = proc.communicate(timeout=900)
        assert proc.returncode == 0, f"pip install [{side}]:\n{out.decode()[-3000:]}"

    edge_bin, hub_bin = tmp_path / "venv-edge" / "bin", tmp_path / "venv-hub" / "bin"
    assert installed(edge_bin / "python", HUB_ONLY, outside, env) == []
    assert installed(hub_bin / "python", EDGE_ONLY, outside, env) == []
    where = run([str(edge_bin / "python"), "-c", "import edge; print(edge.__file__)"], outside, env)
    assert where.startswith(str(tmp_path / "venv-edge")), f"edge imported from {where}"

    sim_help = run([str(edge_bin / "storegw"), "sim", "--help"], outside, env)
    assert "usage" in sim_help.lower()

    edge_port, edge = serve(edge_bin, ["edge", "--store", "s1", "--gateway", "gw1",
                            "--data-dir", str(outside / "gw"), "--mqtt-url", "mqtt://127.0.0.1:9"],
                            outside, env)  # fmt: skip
    (outside / "hub").mkdir()
    hub_port, hub = serve(hub_bin, ["hub", "--data-dir", str(outside / "hub-data"),
                          "--mqtt-url", "mqtt://127.0.0.1:9"], outside / "hub", env)  # fmt: skip
    try:
        gw = httpx.Client(base_url=f"http://127.0.0.1:{edge_port}", timeout=10)
        wait_until(lambda: gw.get("/health").status_code == 200, 60, what="gateway up")
        hq = httpx.Client(
            base_url=f"http://127.0.0.1:{hub_port}",
            headers={"Authorization": "Bearer t0ken"},
            timeout=10,
        )
        wait_until(lambda: hq.get("/api/stores").status_code == 200, 60, what="hub migrated")
    finally:
        for proc in (edge, hub):
            proc.terminate()
            proc.wait(30)
