"""The gateway's recent log lines for the logs page and the diagnostics bundle: an in-memory ring
buffer handler on the root logger (installed once per process), plus the tail of any log file a
FileHandler writes."""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class Line:
    at: float
    level: str
    logger: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["time"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.at)) + "Z"
        return d


class RingBuffer(logging.Handler):
    """The last `size` records, formatted once when they are emitted."""

    def __init__(self, size: int = 5000) -> None:
        super().__init__(logging.DEBUG)
        self.lines: deque[Line] = deque(maxlen=size)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            self.lines.append(Line(record.created, record.levelname, record.name, message))
        except Exception:  # a log line must never break the caller
            self.handleError(record)

    def select(
        self, level: str = "", logger: str = "", text: str = "", limit: int = 500
    ) -> list[Line]:
        """Newest first: at least `level`, the logger or one beneath it, containing `text`."""
        floor = logging.getLevelName(level.upper()) if level.upper() in LEVELS else 0
        text = text.lower()
        out: list[Line] = []
        for line in reversed(self.lines):
            if logging.getLevelName(line.level) < floor:
                continue
            if logger and not (line.logger == logger or line.logger.startswith(logger + ".")):
                continue
            if text and text not in line.message.lower():
                continue
            out.append(line)
            if len(out) >= limit:
                break
        return out


def ring() -> RingBuffer:
    """The process's ring buffer, attached to the root logger the first time it is asked for."""
    root = logging.getLogger()
    for h in root.handlers:
        if isinstance(h, RingBuffer):
            return h
    handler = RingBuffer()
    root.addHandler(handler)  # it keeps what the process logs (--log-level), no more
    return handler


def log_files() -> list[Path]:
    return [
        Path(h.baseFilename)
        for h in logging.getLogger().handlers
        if isinstance(h, logging.FileHandler)
    ]


def tail(path: Path, max_bytes: int = 512 * 1024) -> str:
    """The end of a log file (the last `max_bytes`), decoded leniently."""
    with path.open("rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - max_bytes))
        return f.read().decode("utf-8", "replace")
