"""`storegw edge` re-executes itself once under -OO -X no_debug_ranges (storegw/cli.py): docstrings
and column tables cost the idle gateway ~1.6 MiB resident (docs/performance.md "Gateway memory")."""

from __future__ import annotations

from pathlib import Path

from rig.processes import Broker, Edge


def test_storegw_edge_runs_under_its_lean_options(tmp_path: Path, broker: Broker) -> None:
    """The process serving is the one started (same pid: systemd hears READY=1 from it)."""
    edge = Edge(tmp_path / "edge", "s1", "g1", broker.url)
    edge.start()
    try:
        assert edge.proc and edge.proc.poll() is None
        cmdline = Path(f"/proc/{edge.proc.pid}/cmdline").read_bytes().split(b"\0")
        assert cmdline[1:4] == [b"-OO", b"-X", b"no_debug_ranges"]
        assert cmdline[4:7] == [b"-m", b"storegw.cli", b"edge"]
        assert edge.http.get("/health").status_code == 200
    finally:
        edge.stop()
