"""The released package without the source tree: a wheel built from this checkout, installed
into a fresh virtual environment and run from elsewhere, gives a gateway that finds its device
profiles and serves its API docs, and a hub that migrates its database and answers."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import wait_until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{cmd}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def serve(bin_dir: Path, args: list[str], where: Path, env: dict[str, str]) -> tuple[int, Any]:
    port_file = where / "port"
    log = open(where / "log", "ab")  # noqa: SIM115 - the child keeps it
    proc = subprocess.Popen(
        [str(bin_dir / "storegw"), *args, "--listen", "127.0.0.1:0", "--port-file", str(port_file)],
        cwd=where, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip

    def died() -> str | None:
        return None if proc.poll() is None else (where / "log").read_text()

    wait_until(port_file.exists, 60, what="the port file", abort=died)
    return int(port_file.read_text()), proc


def test_a_wheel_installed_elsewhere_runs_gateway_and_hub(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "STOREGW_PROFILES")}
    env["STOREGW_EDGE_TOKEN"] = env["STOREGW_HUB_TOKEN"] = "t0ken"
    dist, src = tmp_path / "dist", tmp_path / "src"  # built from a copy: the checkout stays clean
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"
    ))  # fmt: skip
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(src)],
        tmp_path, env)  # fmt: skip
    (wheel,) = dist.glob("storegw-*.whl")
    target = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(target)
    py = target / "bin" / "python"
    run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], tmp_path, env)
    # the dependencies: this interpreter's site-packages, after the venv's own (a plain path in
    # a .pth file: the .pth files in it, such as this checkout's editable install, stay unread)
    (site_dir,) = target.glob("lib/python3*/site-packages")
    (site_dir / "deps-from-the-test.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    where = run(
        [str(py), "-c", "import edge.devices.profiles as p, hub, transport, storegw.cli; "
         "print(sorted(p.profiles().scales)); "
         "[print(m.__file__) for m in (hub, transport, storegw.cli)]"],
        outside, env,
    ).splitlines()  # fmt: skip
    assert "mettler-toledo-8217" in where[0], "the device profiles are not in the wheel"
    for path in where[1:]:  # the hub, the shared package and the command
        assert path.startswith(str(target)), f"{path} imported, not the wheel's"

    edge_port, edge = serve(target / "bin", ["edge", "--store", "s1", "--gateway", "gw1",
                            "--data-dir", str(outside / "gw"), "--mqtt-url", "mqtt://127.0.0.1:9"],
                            outside, env)  # fmt: skip
    (outside / "hub").mkdir()
    hub_port, hub = serve(target / "bin", ["hub", "--data-dir", str(outside / "hub-data"),
                          "--mqtt-url", "mqtt://127.0.0.1:9"], outside / "hub", env)  # fmt: skip
    try:
        gw = httpx.Client(base_url=f"http://127.0.0.1:{edge_port}", timeout=10)
        wait_until(lambda: gw.get("/health").status_code == 200, 60, what="gateway up")
        assert "openapi.json" in gw.get("/docs").text
        assert gw.get("/openapi.json").json()["paths"]
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
