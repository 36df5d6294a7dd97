"""The ZVT commands an ECR sends and the answers a payment terminal (PT) gives, as APDUs.

Amounts are fen in a 6-byte BCD (BMP 04); the currency is ISO 4217 numeric (156 = CNY)."""

from __future__ import annotations

from dataclasses import dataclass

from protocols.zvt import bmp
from protocols.zvt.apdu import Apdu, ZvtError, bcd, bcd_int, from_bcd

CNY = 156

ACK = Apdu(0x80, 0x00)
REGISTRATION = (0x06, 0x00)
AUTHORISATION = (0x06, 0x01)
STATUS_INFORMATION = (0x04, 0x0F)
INTERMEDIATE_STATUS = (0x04, 0xFF)
COMPLETION = (0x06, 0x0F)
ABORT = (0x06, 0x1E)
REPEAT_RECEIPT = (0x06, 0x20)
REVERSAL = (0x06, 0x30)
END_OF_DAY = (0x06, 0x50)
ECR_ABORT = (0x06, 0xB0)
PRINT_LINE = (0x06, 0xD1)
PRINT_TEXT_BLOCK = (0x06, 0xD3)
STATUS_ENQUIRY = (0x05, 0x01)

# results (BMP 27, abort byte): 00 ok; 01-63 the card issuer's answer; 64+ the terminal's
RESULTS = {
    0x00: "approved",
    0x05: "declined",
    0x33: "card expired",
    0x51: "insufficient funds",
    0x55: "wrong PIN",
    0x64: "card not readable",
    0x65: "card data not present",
    0x6C: "aborted (timeout or abort key)",
    0x6F: "wrong currency",
    0x9C: "please repeat",
    0xA0: "receiver not ready",
    0xB4: "already reversed",
    0xB5: "reversal not possible",
    0xC2: "diagnosis required",
    0xFF: "system error",
}
INTERMEDIATE = {
    0x00: "waiting for amount confirmation",
    0x01: "please watch the PIN pad",
    0x04: "waiting for the card issuer",
    0x0A: "insert card",
    0x0B: "please remove card",
    0x0C: "card not readable",
    0x0E: "please wait",
    0x17: "please wait",
    0x1B: "present card",
}


def result_text(code: int) -> str:
    return RESULTS.get(code, f"result {code:02X}")


def nak(code: int = 0) -> Apdu:
    return Apdu(0x84, code)


def is_ack(apdu: Apdu) -> bool:
    return apdu.cls == 0x80 and apdu.ins == 0x00


def is_nak(apdu: Apdu) -> bool:
    return apdu.cls == 0x84


def password(pw: str) -> bytes:
    return bcd(pw, 3)


def registration(pw: str = "000000", config: int = 0x86, currency: int = CNY) -> Apdu:
    """06 00: the ECR announces itself; config 0x86: the ECR prints receipts, no PT display."""
    return Apdu(*REGISTRATION, password(pw) + bytes((config,)) + bcd(currency, 2))


def authorisation(amount_fen: int, currency: int = CNY, payment_type: int | None = None) -> Apdu:
    if amount_fen <= 0:
        raise ZvtError("an authorisation needs a positive amount")
    fields = [bmp.Bmp(0x04, bcd(amount_fen, 6)), bmp.Bmp(0x49, bcd(currency, 2))]
    if payment_type is not None:
        fields.append(bmp.Bmp(0x19, bytes((payment_type,))))
    return Apdu(*AUTHORISATION, bmp.encode(fields))


def reversal(receipt_no: int, pw: str = "000000") -> Apdu:
    return Apdu(*REVERSAL, password(pw) + bmp.encode([bmp.Bmp(0x87, bcd(receipt_no, 2))]))


def end_of_day(pw: str = "000000") -> Apdu:
    return Apdu(*END_OF_DAY, password(pw))


def repeat_receipt(pw: str = "000000") -> Apdu:
    """06 20: the PT repeats the last transaction's status information — how an ECR that lost
    an answer learns what became of its payment."""
    return Apdu(*REPEAT_RECEIPT, password(pw))


def status_enquiry(pw: str = "000000") -> Apdu:
    return Apdu(*STATUS_ENQUIRY, password(pw))


def ecr_abort() -> Apdu:
    return Apdu(*ECR_ABORT)


def status_information(info: StatusInfo) -> Apdu:
    """04 0F from the PT (the simulator's side)."""
    fields = [bmp.Bmp(0x27, bytes((info.result,)))]
    if info.amount_fen is not None:
        fields.append(bmp.Bmp(0x04, bcd(info.amount_fen, 6)))
    if info.trace is not None:
        fields.append(bmp.Bmp(0x0B, bcd(info.trace, 3)))
    if info.time:
        fields.append(bmp.Bmp(0x0C, bcd(info.time, 3)))
    if info.date:
        fields.append(bmp.Bmp(0x0D, bcd(info.date, 2)))
    if info.terminal_id:
        fields.append(bmp.Bmp(0x29, bcd(info.terminal_id, 4)))
    if info.currency is not None:
        fields.append(bmp.Bmp(0x49, bcd(info.currency, 2)))
    if info.receipt_no is not None:
        fields.append(bmp.Bmp(0x87, bcd(info.receipt_no, 2)))
    if info.card_name:
        fields.append(bmp.Bmp(0x8B, info.card_name.encode("ascii")))
    if info.pan:
        fields.append(bmp.Bmp(0x22, bytes.fromhex(info.pan + ("F" if len(info.pan) % 2 else ""))))
    return Apdu(*STATUS_INFORMATION, bmp.encode(fields))


def intermediate(code: int) -> Apdu:
    return Apdu(*INTERMEDIATE_STATUS, bytes((code,)))


def completion() -> Apdu:
    return Apdu(*COMPLETION)


def abort(code: int) -> Apdu:
    return Apdu(*ABORT, bytes((code,)))


@dataclass(frozen=True)
class StatusInfo:
    """What 04 0F says about a transaction."""

    result: int
    amount_fen: int | None = None
    trace: int | None = None
    receipt_no: int | None = None
    terminal_id: str = ""
    currency: int | None = None
    card_name: str = ""
    pan: str = ""  # masked by the PT (E nibbles) or empty
    time: str = ""  # HHMMSS local to the PT
    date: str = ""  # MMDD

    @property
    def approved(self) -> bool:
        return self.result == 0

    @classmethod
    def parse(cls, apdu: Apdu) -> StatusInfo:
        if apdu.command != STATUS_INFORMATION:
            raise ZvtError(f"not status information: {apdu!r}")
        f = {b.tag: b.value for b in bmp.decode(apdu.data)}
        if 0x27 not in f:
            raise ZvtError("status information without a result code (BMP 27)")
        return cls(
            result=f[0x27][0],
            amount_fen=bcd_int(f[0x04]) if 0x04 in f else None,
            trace=bcd_int(f[0x0B]) if 0x0B in f else None,
            receipt_no=bcd_int(f[0x87]) if 0x87 in f else None,
            terminal_id=from_bcd(f[0x29]) if 0x29 in f else "",
            currency=bcd_int(f[0x49]) if 0x49 in f else None,
            card_name=f[0x8B].decode("ascii", "replace") if 0x8B in f else "",
            pan=from_bcd(f[0x22]) if 0x22 in f else "",
            time=from_bcd(f[0x0C]) if 0x0C in f else "",
            date=from_bcd(f[0x0D]) if 0x0D in f else "",
        )


def parse_amount(apdu: Apdu) -> int:
    """The amount (BMP 04) of an authorisation (the simulator's side)."""
    for f in bmp.decode(apdu.data):
        if f.tag == 0x04:
            return bcd_int(f.value)
    raise ZvtError("no amount (BMP 04)")


def parse_reversal(apdu: Apdu) -> tuple[str, int]:
    """Password and receipt number of a 06 30 (the simulator's side)."""
    if len(apdu.data) < 3:
        raise ZvtError("reversal without a password")
    for f in bmp.decode(apdu.data[3:]):
        if f.tag == 0x87:
            return from_bcd(apdu.data[:3]), bcd_int(f.value)
    raise ZvtError("reversal without a receipt number (BMP 87)")
