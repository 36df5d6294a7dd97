"""The overview's facts (store, version, uptime, hub link, journal, disk, memory, temperature,
certificates) and the "what is wrong" summary on top: each problem in plain words with the next
step to take, worst first."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.admin.base import Watch
from edge.devices.printer import Printer

if TYPE_CHECKING:
    from edge.gateway import Gateway

THERMAL = Path("/sys/class/thermal")
CERT_WARN_DAYS = 30
DISK_WARN_FRACTION = 0.10

# what to do about a printer's problem (protocols/escpos/status.py names them)
PRINTER_STEPS = {
    "printer error": ("打印机故障 — 关机再开机", "switch the printer off and on"),
    "cutter jammed": ("切刀卡住 — 打开盖子清除卡纸", "open the cover and clear the cutter"),
    "cover open": ("盖子未关 — 合上盖子", "close the cover"),
    "paper out": ("缺纸 — 装纸", "load paper"),
    "offline": ("脱机 — 检查电源和 Feed 键", "check power; press Feed once"),
    "paper near end": ("纸快用完 — 准备换纸", "have a new roll ready"),
}
DEVICE_STEPS = {
    "scale": ("检查秤的电源和串口线", "check the scale's power and serial cable"),
    "scanner": ("重新插拔扫码枪", "re-plug the scanner"),
    "printer": ("检查打印机电源和网线/数据线", "check the printer's power and cable"),
    "drawer": ("检查钱箱连线", "check the drawer's cable"),
    "terminal": ("检查刷卡机电源和网络", "check the card terminal's power and network"),
    "aggregator": ("检查门店网络；扫码支付暂不可用", "check the store's internet; QR pay is down"),
}


@dataclass(frozen=True)
class Problem:
    severity: str  # "error" | "warning"
    zh: str
    en: str


def version() -> str:
    try:
        return metadata.version("storegw")
    except metadata.PackageNotFoundError:
        return "dev"


def duration(seconds: float) -> tuple[str, str]:
    """(zh, en) in whole minutes, hours or days."""
    m = int(seconds // 60)
    if m < 60:
        return f"{m} 分钟", f"{m} min"
    if m < 48 * 60:
        return f"{m // 60} 小时 {m % 60} 分钟", f"{m // 60} h {m % 60} min"
    return f"{m // 1440} 天", f"{m // 1440} days"


def memory() -> dict[str, int] | None:
    try:
        info = dict(
            line.split(":", 1)
            for line in Path("/proc/meminfo").read_text().splitlines()
            if ":" in line
        )
    except OSError:
        return None
    kib = {k: int(v.split()[0]) for k, v in info.items() if v.split()}
    return {
        "total_mb": kib.get("MemTotal", 0) // 1024,
        "available_mb": kib.get("MemAvailable", 0) // 1024,
    }


def cpu_temperature_c(root: Path = THERMAL) -> float | None:
    """The CPU's temperature on a Pi (thermal_zone0 reads millidegrees); None elsewhere."""
    zones = sorted(root.glob("thermal_zone*")) if root.is_dir() else []
    for zone in zones:
        try:
            kind = (zone / "type").read_text().strip()
            if (
                kind in ("cpu-thermal", "cpu_thermal", "soc_thermal", "x86_pkg_temp")
                or zone.name == "thermal_zone0"
            ):
                return int((zone / "temp").read_text().strip()) / 1000
        except (OSError, ValueError):
            continue
    return None


def certificate(path: str | None) -> dict[str, Any] | None:
    """Subject and expiry of a PEM certificate, or why it could not be read."""
    if not path:
        return None
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(Path(path).read_bytes())
    except (OSError, ValueError) as err:
        return {"path": path, "error": str(err)}
    expires = cert.not_valid_after_utc
    return {
        "path": path,
        "subject": cert.subject.rfc4514_string(),
        "expires": expires.isoformat(),
        "days_left": (expires - datetime.now(UTC)).days,
    }


def sales_waiting(gw: Gateway) -> int:
    row = gw.journal.conn.execute(
        "SELECT count(*) FROM events WHERE seq > ? AND type = 'sale.completed'",
        (gw.journal.last_acked,),
    ).fetchone()
    return int(row[0])


def overview(gw: Gateway, watch: Watch, started: float) -> dict[str, Any]:
    watch.sample(gw)
    j = gw.journal.stats()
    disk = shutil.disk_usage(gw.data_dir)
    ca = gw.uplink.link.address.ca_file if gw.uplink.link else None
    facts = {
        "store": j["store"],
        "gateway": j["gateway"],
        "version": version(),
        "uptime_s": int(time.time() - started),
        "broker": {
            "connected": gw.uplink.connected,
            "tls": bool(gw.uplink.link and gw.uplink.link.address.tls),
            "down_since": watch.broker_down_since,
        },
        "hub_online": gw.uplink.hub_online,
        "journal": j | {"sales_waiting": sales_waiting(gw), "last_ack_at": last_ack_at(gw)},
        "disk": {"free_mb": disk.free >> 20, "total_mb": disk.total >> 20},
        "memory": memory(),
        "cpu_temp_c": cpu_temperature_c(),
        "client_certificate": certificate(client_cert_path(gw)),
        "broker_ca": certificate(ca),
    }
    facts["problems"] = [p.__dict__ for p in problems(gw, watch, facts)]
    return facts


def client_cert_path(gw: Gateway) -> str | None:
    """The gateway's MQTT client certificate: STOREGW_MQTT_CERT_FILE, or where pairing puts it
    (`<data dir>/tls/client.pem`); None while there is none."""
    path = os.environ.get("STOREGW_MQTT_CERT_FILE") or str(gw.data_dir / "tls" / "client.pem")
    return path if Path(path).exists() else None


def last_ack_at(gw: Gateway) -> str | None:
    row = gw.journal.conn.execute("SELECT max(acked_at) FROM events").fetchone()
    if not row or row[0] is None:
        return None
    return datetime.fromtimestamp(row[0], UTC).isoformat(timespec="seconds")


def problems(gw: Gateway, watch: Watch, facts: dict[str, Any]) -> list[Problem]:
    out: list[Problem] = []
    now = time.time()
    waiting = facts["journal"]["sales_waiting"]
    kept = (f"{waiting} 笔销售待上传，不会丢失", f"{waiting} sales waiting, nothing lost")
    if watch.broker_down_since is not None:
        zh, en = duration(now - watch.broker_down_since)
        out.append(Problem(
            "error",
            f"连不上消息服务器已 {zh} — {kept[0]}；检查门店网络和路由器",
            f"broker unreachable for {en} — {kept[1]}; check the store's network and router",
        ))  # fmt: skip
    elif watch.hub_down_since is not None:
        zh, en = duration(now - watch.hub_down_since)
        out.append(Problem(
            "error",
            f"总部服务器离线已 {zh} — {kept[0]}；总部恢复后自动补传",
            f"hub unreachable for {en} — {kept[1]}; they go up by themselves when it is back",
        ))  # fmt: skip
    if facts["journal"]["alarm"]:
        out.append(Problem(
            "warning",
            f"流水积压：{facts['journal']['alarm']} — 联系总部检查服务器",
            f"journal: {facts['journal']['alarm']} — ask HQ to check the hub",
        ))  # fmt: skip
    for device in gw.devices.by_id.values():
        name = f"{device.kind} {device.spec.id}"
        if isinstance(device, Printer) and device.state == "online" and device.printer_status:
            for problem in device.printer_status.problems():
                zh, en = PRINTER_STEPS.get(problem, (problem, problem))
                out.append(Problem(
                    "warning" if problem == "paper near end" else "error",
                    f"打印机 {device.spec.id}：{zh}",
                    f"printer {device.spec.id}: {problem} — {en}",
                ))  # fmt: skip
        if device.state == "unavailable":
            zh, en = DEVICE_STEPS.get(device.kind, ("检查设备", "check the device"))
            why = device.last_error or "no answer"
            out.append(Problem("error", f"{name} 不可用：{why} — {zh}", f"{name}: {why} — {en}"))
    disk = facts["disk"]
    if disk["total_mb"] and disk["free_mb"] < disk["total_mb"] * DISK_WARN_FRACTION:
        out.append(Problem(
            "error" if disk["free_mb"] < 256 else "warning",
            f"磁盘只剩 {disk['free_mb']} MB — 下载诊断包后联系总部清理",
            f"disk almost full ({disk['free_mb']} MB free) — send HQ a diagnostics bundle",
        ))  # fmt: skip
    temp = facts["cpu_temp_c"]
    if temp is not None and temp >= 80:
        out.append(Problem(
            "warning",
            f"CPU 温度 {temp:.0f}°C — 让网关通风，别放在封闭柜里",
            f"CPU at {temp:.0f} °C — give the gateway air; not in a closed cabinet",
        ))  # fmt: skip
    for key, zh_name in (("client_certificate", "网关证书"), ("broker_ca", "服务器 CA 证书")):
        cert = facts[key]
        if cert and "days_left" in cert and cert["days_left"] < CERT_WARN_DAYS:
            left = cert["days_left"]
            out.append(Problem(
                "error" if left < 0 else "warning",
                f"{zh_name} {'已过期' if left < 0 else f'{left} 天后过期'} — 联系总部续期",
                f"{key.replace('_', ' ')} {'expired' if left < 0 else f'expires in {left} days'}"
                " — ask HQ to renew it",
            ))  # fmt: skip
    out.sort(key=lambda p: p.severity != "error")
    return out
