"""`storegw`: one command for every role.

storegw hub  --data-dir DIR [--database-url URL] --mqtt-url mqtt://HOST:PORT --listen HOST:PORT
storegw edge recover --data-dir DIR   (a journal that failed its check: docs/reliability.md)
storegw edge --store S --gateway G --data-dir DIR --mqtt-url mqtt://HOST:PORT --listen HOST:PORT
  (either, over TLS: --mqtt-url mqtts://HOST:8883 --mqtt-ca-file CA --mqtt-username U
   --mqtt-password-file F, or the same as STOREGW_MQTT_* variables)
storegw sim
storegw demo
storegw analytics ltv-fit --transactions FILE.csv --calibration-end YYYY-MM-DD
                          [--period day|week] [--holdout-end YYYY-MM-DD]
storegw udev-rules [--profiles DIR] [--group G]   (deploy/provision-pi.sh installs them)
storegw edge|hub backup|restore …, storegw audit verify …  (storegw/care.py)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path


def _logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _split(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host or "127.0.0.1", int(port)


def write_port_file(path: str | None, port: int) -> None:
    """Tell whoever started us which port we got (for `--listen HOST:0`): written atomically
    only once the socket is bound, so a reader never sees a port nobody listens on."""
    if not path:
        return
    tmp = Path(f"{path}.tmp")
    tmp.write_text(f"{port}\n")
    tmp.replace(path)


def _mqtt_options(p: argparse.ArgumentParser) -> None:
    """Where the broker is and who we are to it (per-gateway credentials over TLS)."""
    env = os.environ.get
    p.add_argument("--mqtt-url", default=env("STOREGW_MQTT_URL", "mqtt://127.0.0.1:1883"))
    p.add_argument("--mqtt-ca-file", default=env("STOREGW_MQTT_CA_FILE"), help="for mqtts://")
    p.add_argument("--mqtt-username", default=env("STOREGW_MQTT_USERNAME"))
    p.add_argument(
        "--mqtt-password-file",
        default=env("STOREGW_MQTT_PASSWORD_FILE"),
        help="file holding the broker password (or set STOREGW_MQTT_PASSWORD)",
    )
    p.add_argument("--mqtt-cert-file", default=env("STOREGW_MQTT_CERT_FILE"), help="client cert")
    p.add_argument("--mqtt-key-file", default=env("STOREGW_MQTT_KEY_FILE"), help="its key")


def _mqtt_url(args: argparse.Namespace) -> str:
    from transport.mqtt_link import url_with

    return url_with(
        args.mqtt_url,
        ca_file=args.mqtt_ca_file,
        username=args.mqtt_username,
        password_file=args.mqtt_password_file,
        cert_file=args.mqtt_cert_file,
        key_file=args.mqtt_key_file,
    )


def run_hub(args: argparse.Namespace) -> None:
    import socket

    import uvicorn

    from hub.app import create_app

    app = create_app(
        Path(args.data_dir), args.database_url, _mqtt_url(args), args.broker_url, args.pairing_hook
    )
    host, port = _split(args.listen)
    # bind here, not in uvicorn, so port 0 works and the bound port can be reported
    sock = socket.create_server((host, port), backlog=2048)
    write_port_file(args.port_file, sock.getsockname()[1])
    config = uvicorn.Config(app, log_level=args.log_level.lower(), access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


# The interpreter options the gateway runs under (docs/performance.md "Gateway memory"): -OO
# drops docstrings (and asserts: none of ours or our libraries' is needed to run), which stay
# resident with every module's code; no_debug_ranges drops the code objects' column tables (also
# from cached .pyc files: it applies where code objects are made). Both take effect only at
# interpreter start, so `storegw edge` re-executes itself once with them.
EDGE_PYTHON_OPTIONS = ("-OO", "-X", "no_debug_ranges")
LEAN = "STOREGW_EDGE_LEAN"  # set (to anything) in the re-executed process; or to opt out


def _lean_interpreter() -> None:
    """Re-execute this very command under EDGE_PYTHON_OPTIONS, once. os.execv keeps the pid:
    systemd (Type=notify, NotifyAccess=main) hears READY=1 from the process it started."""
    if LEAN in os.environ or (sys.flags.optimize >= 2 and "no_debug_ranges" in sys._xoptions):
        return
    os.environ[LEAN] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, *EDGE_PYTHON_OPTIONS, *sys.orig_argv[1:]])


def run_edge(args: argparse.Namespace) -> None:
    from edge.allocator import unmap_big_buffers
    from edge.gateway import serve
    from edge.journal import JournalCorrupt

    unmap_big_buffers()  # the uplink's batches go back to the system when freed

    args.mqtt_url = _mqtt_url(args)
    try:
        asyncio.run(serve(args))
    except JournalCorrupt as err:  # refuse to start, and say the way out
        logging.getLogger("storegw.edge").critical("%s", err)
        sys.exit(3)


def main(argv: list[str] | None = None) -> None:
    from storegw import care

    command_line = argv is None  # not called from Python with arguments of its own
    argv = sys.argv[1:] if argv is None else argv
    if care.wants(argv):  # backups, restores, the audit check: not the roles' options
        _logging(os.environ.get("STOREGW_LOG_LEVEL", "INFO"))
        sys.exit(care.main(argv))
    parser = argparse.ArgumentParser(prog="storegw", description="storegw: store gateway and hub")
    parser.add_argument("--log-level", default=os.environ.get("STOREGW_LOG_LEVEL", "INFO"))
    sub = parser.add_subparsers(dest="role", required=True)
    argv = sys.argv[1:] if argv is None else argv
    if argv[:2] == ["edge", "recover"]:  # its own options: not a gateway to run
        from edge.recover import main as recover

        return recover(argv[2:])

    hub = sub.add_parser("hub", help="run the chain hub (API + ingest)")
    hub.add_argument("--data-dir", required=True)
    hub.add_argument(
        "--database-url",
        default=os.environ.get("STOREGW_DATABASE_URL"),
        help="default: a SQLite file in the data dir",
    )
    _mqtt_options(hub)
    hub.add_argument(
        "--broker-url",
        default=os.environ.get("STOREGW_BROKER_URL"),
        help="the broker address paired gateways get (mqtts://HOST:8883; default --mqtt-url)",
    )
    hub.add_argument(
        "--pairing-hook",
        default=os.environ.get("STOREGW_PAIRING_HOOK"),
        help="command run as HOOK paired|decommissioned STORE GATEWAY (deploy/broker-hook.sh)",
    )
    hub.add_argument("--listen", default="127.0.0.1:8000", help="HOST:PORT (port 0: any free)")
    hub.add_argument("--port-file", help="write the bound port here once listening")
    hub.set_defaults(run=run_hub)

    edge = sub.add_parser("edge", help="run a store gateway")
    edge.add_argument("--store", required=True)
    edge.add_argument("--gateway", required=True)
    edge.add_argument("--data-dir", required=True)
    _mqtt_options(edge)
    edge.add_argument("--listen", default="127.0.0.1:8080", help="HOST:PORT (port 0: any free)")
    edge.add_argument("--port-file", help="write the bound port here once listening")
    edge.add_argument("--tz", default="Asia/Shanghai", help="the store's IANA time zone")
    edge.add_argument(
        "--lanes",
        default=os.environ.get("STOREGW_LANES", "1-4"),
        help="the checkout lanes declared, e.g. 1-4,express (a manager may add more)",
    )
    edge.add_argument(
        "--ack-timeout",
        type=float,
        default=10.0,
        help="seconds without a hub ack before resending (backs off)",
    )
    edge.add_argument(
        "--min-free-mib",
        type=int,
        default=int(os.environ.get("STOREGW_MIN_FREE_MIB", "64")),
        help="refuse new sales (507) below this much free disk for the journal",
    )
    edge.set_defaults(run=run_edge)

    sim = sub.add_parser("sim", help="start device simulators and print their paths")
    sim.add_argument("rest", nargs=argparse.REMAINDER)
    sim.set_defaults(run=lambda a: __import__("edge.sim.cli", fromlist=["main"]).main(a.rest))

    udev = sub.add_parser(
        "udev-rules", help="print udev rules for the gateway's USB devices, from the profiles"
    )
    udev.add_argument("--profiles", help="a firmware_config directory (default: the installed)")
    udev.add_argument("--group", default="storegw", help="the group that may open the devices")
    udev.set_defaults(run=lambda a: __import__("edge.devices.udev", fromlist=["main"]).main(a))

    demo = sub.add_parser("demo", help="a small chain on this machine, nothing to configure")
    demo.add_argument("--stores", type=int, default=3)
    demo.add_argument("--rate", type=float, default=3.0, help="sales per second per store")
    demo.add_argument("--members", type=int, default=40, help="members registered at start")
    demo.add_argument("--data-dir", default=None, help="default: a fresh temporary folder")
    demo.add_argument("--seconds", type=float, default=0, help="stop after this long (0: Ctrl-C)")
    demo.set_defaults(run=lambda a: __import__("storegw.demo", fromlist=["main"]).main(a))

    analytics = sub.add_parser("analytics", help="member analytics tools")
    tools = analytics.add_subparsers(dest="tool", required=True)
    fit = tools.add_parser("ltv-fit", help="fit BG/NBD + Gamma-Gamma to a transactions CSV")
    fit.add_argument("--transactions", required=True, help="CSV with customer,date,amount")
    fit.add_argument("--calibration-end", required=True, help="YYYY-MM-DD")
    fit.add_argument("--period", choices=["day", "week"], default="day")
    fit.add_argument("--holdout-end", help="YYYY-MM-DD: predicted vs actual after calibration")
    fit.set_defaults(run=lambda a: __import__("hub.analytics.ltv_file", fromlist=["main"]).main(a))
    forecast = sub.add_parser("forecast", help="the demand forecast: backtest it, or run it now")
    forecast.add_argument("action", choices=("backtest", "run"))
    forecast.add_argument("--data-dir", default=".", help="the hub's data dir (its SQLite file)")
    forecast.add_argument("--database-url", default=os.environ.get("STOREGW_DATABASE_URL"))
    forecast.add_argument("--store", action="append", help="only this store (repeatable)")
    forecast.add_argument("--until", help="backtest: the last day of history (default yesterday)")
    forecast.add_argument("--origins", type=int, default=8, help="backtest: weekly origins")
    forecast.set_defaults(run=lambda a: __import__("hub.forecast.cli", fromlist=["main"]).main(a))

    args = parser.parse_args(argv)
    if args.role == "edge" and command_line:
        _lean_interpreter()
    _logging(args.log_level)
    try:
        args.run(args)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
