"""The released package without the source tree: a wheel built from this checkout, installed
into a fresh virtual environment and run from elsewhere, gives a gateway that finds its device
profiles and serves its API docs, and a hub that migrates its database and answers."""

from __future__ import annotations

import site
import venv
from pathlib import Path

import httpx
import pytest

from rig.waiting import wait_until
from tests.storegw.install.installing import clean_env, run, serve

pytestmark = pytest.mark.slow

def test_a_wheel_installed_elsewhere_runs_gateway_and_hub(tmp_path: Path, wheel: Path) -> None:
    env = clean_env()
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
        # the console's templates, catalogs and vendored chart library came with the wheel
        assert "csrf" in hq.get("/console/login").text
        assert hq.get("/console/static/vendor/echarts/echarts.min.js").status_code == 200
        assert "openapi.json" in hq.get("/docs").text  # the docs page is package data
    finally:
        for proc in (edge, hub):
            proc.terminate()
            proc.wait(30)
