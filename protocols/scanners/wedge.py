"""A HID keyboard wedge: Linux `struct input_event` records in, one scan (text) out per Enter.

Key codes with shift become characters (a US layout, as scanners type), Ctrl+] (or Alt + keypad
029) becomes GS. The codes are the kernel's (linux/input-event-codes.h), spelled here so this
module needs no device library."""

from __future__ import annotations

import struct

from protocols.stream import EventParser

EV_SYN, EV_KEY = 0x00, 0x01
INPUT_EVENT = struct.Struct("llHHi")  # struct input_event: timeval, type, code, value

KEY_ENTER, KEY_KPENTER, KEY_CAPSLOCK, KEY_RIGHTBRACE = 28, 96, 58, 27
SHIFT_KEYS = frozenset({42, 54})  # KEY_LEFTSHIFT, KEY_RIGHTSHIFT
CTRL_KEYS = frozenset({29, 97})  # KEY_LEFTCTRL, KEY_RIGHTCTRL
ALT_KEYS = frozenset({56, 100})  # KEY_LEFTALT, KEY_RIGHTALT
KEYPAD_DIGITS = {82: "0", 79: "1", 80: "2", 81: "3", 75: "4", 76: "5", 77: "6", 71: "7", 72: "8",
                 73: "9"}  # fmt: skip


def _keymap() -> dict[int, tuple[str, str]]:
    """Key code → (plain, shifted) character."""
    out: dict[int, tuple[str, str]] = {}
    for first, plain, shifted in (
        (2, "1234567890-=", "!@#$%^&*()_+"),
        (16, "qwertyuiop[]", "QWERTYUIOP{}"),
        (30, "asdfghjkl;'`", 'ASDFGHJKL:"~'),
        (43, "\\zxcvbnm,./", "|ZXCVBNM<>?"),
    ):
        for i, pair in enumerate(zip(plain, shifted, strict=True)):
            out[first + i] = pair
    out |= {57: (" ", " "), 15: ("\t", "\t"), 55: ("*", "*"), 74: ("-", "-"), 78: ("+", "+"),
            83: (".", "."), 98: ("/", "/")}  # fmt: skip
    out |= {code: (d, d) for code, d in KEYPAD_DIGITS.items()}
    return out


KEYMAP = _keymap()


class KeyboardWedge(EventParser[str]):
    """`receive_data(records)`; `next_event()` gives the text of each finished scan."""

    def __init__(self) -> None:
        super().__init__()
        self.shift = self.ctrl = self.alt = self.caps = False
        self._alt_code = ""
        self._text: list[str] = []

    def _parse(self) -> None:
        usable = len(self._buf) - len(self._buf) % INPUT_EVENT.size
        for _sec, _usec, type_, code, value in INPUT_EVENT.iter_unpack(bytes(self._buf[:usable])):
            text = self._key(type_, code, value)
            if text:
                self._emit(text)
        del self._buf[:usable]

    def _key(self, type_: int, code: int, value: int) -> str | None:
        if type_ != EV_KEY:
            return None
        down = value in (1, 2)  # press or autorepeat
        if code in SHIFT_KEYS:
            self.shift = down
        elif code in CTRL_KEYS:
            self.ctrl = down
        elif code in ALT_KEYS:
            self.alt = down
            if not down and self._alt_code:  # Alt + keypad digits: the character with that code
                self._text.append(chr(int(self._alt_code) % 256))
                self._alt_code = ""
        elif code == KEY_CAPSLOCK and value == 1:
            self.caps = not self.caps
        elif not down:
            return None
        elif code in (KEY_ENTER, KEY_KPENTER):
            text, self._text = "".join(self._text), []
            return text
        elif self.alt and code in KEYPAD_DIGITS:
            self._alt_code += KEYPAD_DIGITS[code]
        elif self.ctrl and code == KEY_RIGHTBRACE:
            self._text.append("\x1d")  # Ctrl+] is GS, how wedges type FNC1
        elif code in KEYMAP:
            plain, shifted = KEYMAP[code]
            upper = self.shift != (self.caps and plain.isalpha())
            self._text.append(shifted if upper else plain)
        return None


def records(events: list[tuple[int, int, int]], sec: int = 0, usec: int = 0) -> bytes:
    """(type, code, value) events as the kernel's records (for simulators and tests)."""
    return b"".join(INPUT_EVENT.pack(sec, usec, t, c, v) for t, c, v in events)
