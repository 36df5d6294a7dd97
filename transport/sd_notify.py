"""systemd's service notification (sd_notify(3)), without a dependency: a datagram to the unix
socket named by NOTIFY_SOCKET. Both sides say READY=1 once they listen (the units are
Type=notify, deploy/systemd/) and send WATCHDOG=1 from their event loop every half
WatchdogSec, so a wedged loop is restarted by systemd. Without NOTIFY_SOCKET (not under
systemd, tests) every call does nothing."""

from __future__ import annotations

import asyncio
import logging
import os
import socket

log = logging.getLogger(__name__)


def notify(*states: str) -> bool:
    """Send `states` ("READY=1", "STATUS=…", …) to systemd; False when not under systemd."""
    where = os.environ.get("NOTIFY_SOCKET")
    if not where:
        return False
    if where.startswith("@"):  # an abstract socket
        where = "\0" + where[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.connect(where)
            s.sendall("\n".join(states).encode())
    except OSError as err:  # systemd gone or the socket wrong: never fatal to the service
        log.warning("sd_notify to %s failed: %s", os.environ.get("NOTIFY_SOCKET"), err)
        return False
    return True


def watchdog_interval() -> float | None:
    """Half the watchdog timeout systemd gave this process (WATCHDOG_USEC), or None."""
    usec, pid = os.environ.get("WATCHDOG_USEC"), os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2_000_000


async def keep_alive() -> None:
    """Run as a task on the service's event loop: WATCHDOG=1 every half timeout, so the pings
    stop when the loop stops turning."""
    interval = watchdog_interval()
    if not interval or not os.environ.get("NOTIFY_SOCKET"):
        return
    while True:
        notify("WATCHDOG=1")
        await asyncio.sleep(interval)


def ready(status: str) -> None:
    """READY=1 with a status line (`systemctl status` shows it)."""
    notify("READY=1", f"STATUS={status}", f"MAINPID={os.getpid()}")
