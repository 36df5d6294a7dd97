"""Barcodes: AIM ids, check digits, GS1 element strings, label-scale codes, payment codes."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from biip.checksums import gs1_standard_check_digit
from hypothesis import given
from hypothesis import strategies as st

from protocols.codes import (
    Gs1Scan,
    OtherScan,
    PaymentScan,
    ProductScan,
    WeighedScan,
    aim,
    classify,
    ean,
    paycode,
)
from protocols.codes.variable_measure import Layout, LayoutError

DAHUA_13 = Layout("dahua-13-amount", "FWWWWWWEEEEEC", ("2",))
DAHUA_18 = Layout("dahua-18", "FFWWWWWEEEEENNNNNC", ("21", "22"))
DINGJIAN_18 = Layout("dingjian-18", "FFWWWWWNNNNNEEEEEC", ("23", "24"))


@pytest.mark.parametrize(
    ("payload", "full"),
    [
        ("211234501250", "2112345012506"),  # PROTOCOL-NOTES vector
        ("400638133393", "4006381333931"),  # EAN-13
        ("9638507", "96385074"),  # EAN-8
        ("03600029145", "036000291452"),  # UPC-A
        ("690123456789", "6901234567892"),
    ],
)
def test_check_digits(payload: str, full: str) -> None:
    assert ean.with_check_digit(payload) == full
    assert ean.is_valid(full)
    assert not ean.is_valid(full[:-1] + str((int(full[-1]) + 1) % 10))


@given(st.text("0123456789", min_size=1, max_size=17))
def test_check_digit_agrees_with_biip(payload: str) -> None:
    assert ean.check_digit(payload) == gs1_standard_check_digit(payload)


def test_formats_and_gtin14() -> None:
    assert ean.format_of("96385074") == "EAN-8"
    assert ean.format_of("036000291452") == "UPC-A"
    assert ean.gtin14("036000291452") == "00036000291452"
    assert ean.format_of("6901234567891") is None


def test_aim_identifiers() -> None:
    sym, data = aim.split("]E02112345012506")
    assert (sym.aim, sym.name, data) == ("]E0", "EAN-13/UPC-A", "2112345012506")
    assert aim.split("]C1010950")[0].gs1
    assert aim.split("]d2x")[0].name == "GS1 DataMatrix"
    assert aim.split("]Q3x")[0].gs1 and not aim.split("]Q1x")[0].gs1
    assert aim.split("]Z9x")[0].aim == "]Z9"  # unknown ids are kept
    assert aim.split("6901234567892")[0] is aim.UNKNOWN


def test_ean_and_upc_become_products() -> None:
    scan = classify("]E06901234567892")
    assert isinstance(scan, ProductScan)
    assert (scan.gtin, scan.format, scan.symbology.name) == (
        "06901234567892",
        "EAN-13",
        "EAN-13/UPC-A",
    )
    assert classify("]E496385074").event()["format"] == "EAN-8"
    bad = classify("]E06901234567891")
    assert isinstance(bad, OtherScan) and "check digit" in bad.note


def test_gs1_128_with_gs_separators() -> None:
    scan = classify("]C10109501101530003310300125010LOT42\x1d1727013121SN9\x1d39221999")
    assert isinstance(scan, Gs1Scan)
    d = scan.data
    assert d.gtin == "09501101530003" and d.batch == "LOT42" and d.serial == "SN9"
    assert d.expiry == date(2027, 1, 31)
    assert d.net_weight_g == 1250
    assert d.price_fen == 1999
    assert scan.event()["expiry"] == "2027-01-31"


def test_gs1_datamatrix_and_qr_and_hri() -> None:
    assert isinstance(classify("]d2010950110153000317270131"), Gs1Scan)
    assert classify("]Q3010950110153000310ABC").data.batch == "ABC"
    hri = classify("(01)09501101530003(3102)012345")
    assert isinstance(hri, Gs1Scan) and hri.data.net_weight_g == 123450


def test_gs1_from_a_wedge_with_a_gs_substitute() -> None:
    scan = classify("]C1010950110153000310LOT~17270131", gs_substitute="~")
    assert isinstance(scan, Gs1Scan)
    assert scan.data.batch == "LOT" and scan.data.expiry == date(2027, 1, 31)


def test_gs1_with_a_bad_gtin_reports_it() -> None:
    scan = classify("]C10109501101530004")
    assert isinstance(scan, Gs1Scan) and scan.data.gtin is None and scan.data.errors


def test_label_scale_13_digits_amount() -> None:
    scan = classify("2112345012506", [DAHUA_13])
    assert isinstance(scan, WeighedScan)
    assert (scan.item.item_code, scan.item.amount_fen, scan.item.weight_g) == ("112345", 1250, None)


def test_label_scale_18_digits_amount_and_weight() -> None:
    code = ean.with_check_digit("21001230125000500")
    scan = classify("]C0" + code, [DAHUA_13, DAHUA_18])
    assert isinstance(scan, WeighedScan)
    assert scan.item == type(scan.item)("00123", "dahua-18", 500, 1250)
    other = ean.with_check_digit("23007770035001099")
    item = classify(other, [DAHUA_18, DINGJIAN_18]).item
    assert (item.item_code, item.weight_g, item.amount_fen, item.layout) == (
        "00777",
        350,
        1099,
        "dingjian-18",
    )


def test_label_code_with_a_wrong_check_digit_is_not_an_item() -> None:
    code = ean.with_check_digit("21001230125000500")
    broken = code[:-1] + str((int(code[-1]) + 1) % 10)
    assert not isinstance(classify(broken, [DAHUA_18]), WeighedScan)


def test_without_layouts_a_restricted_code_is_a_plain_product() -> None:
    assert isinstance(classify("2112345012506"), ProductScan)


def test_layout_validation() -> None:
    with pytest.raises(LayoutError, match="one run"):
        Layout("x", "FWWEWWEEEEEEC", ("2",))
    with pytest.raises(LayoutError, match="digit"):
        Layout("x", "FFWWWWWEEEEEC", ("2",))
    with pytest.raises(LayoutError, match="letters"):
        Layout("x", "FWWWWWWEEEEEQ", ("2",))
    with pytest.raises(LayoutError, match="last"):
        Layout("x", "FWWWWWWCEEEEE", ("2",))


@pytest.mark.parametrize(
    ("code", "provider"),
    [
        ("134567890123456789", "wechat"),
        ("101234567890123456", "wechat"),
        ("151234567890123456", "wechat"),
        ("2812345678901234", "alipay"),  # 16 digits
        ("281234567890123456", "alipay"),  # 18 digits
        ("301234567890123456789012", "alipay"),  # 24 digits
        ("251234567890123456", "alipay"),
        ("6212345678901234567", "unionpay"),
    ],
)
def test_payment_codes_route_to_payment(code: str, provider: str) -> None:
    for raw in (code, "]Q1" + code, "]C0" + code):
        scan = classify(raw, [DAHUA_13, DAHUA_18])
        assert isinstance(scan, PaymentScan)
        assert scan.paycode.provider == provider
        assert code not in repr(scan) and code not in str(scan.event())
        assert scan.event()["masked"] == code[:4] + "*" * (len(code) - 8) + code[-4:]


@pytest.mark.parametrize(
    "code",
    [
        "161234567890123456",  # 18 digits starting 16: not WeChat
        "13456789012345678",  # 17 digits
        "281234567890123",  # 15 digits
        "2812345678901234567890123",  # 25 digits
        "311234567890123456",
    ],
)
def test_near_misses_are_not_payment_codes(code: str) -> None:
    assert not isinstance(classify(code), PaymentScan)


@given(
    st.sampled_from(["10", "11", "12", "13", "14", "15"]),
    st.text("0123456789", min_size=16, max_size=16),
)
def test_every_wechat_shaped_code_goes_to_payment(head: str, rest: str) -> None:
    assert isinstance(classify(head + rest, [DAHUA_18]), PaymentScan)


@given(
    st.integers(25, 30),
    st.integers(14, 22).flatmap(lambda n: st.text("0123456789", min_size=n, max_size=n)),
)
def test_every_alipay_shaped_code_goes_to_payment(head: int, rest: str) -> None:
    assert classify(str(head) + rest, [DAHUA_18, DINGJIAN_18]).kind == "paycode"


@given(st.text(max_size=80))
def test_classify_never_crashes(raw: str) -> None:
    scan = classify(raw, [DAHUA_13, DAHUA_18], gs_substitute="~")
    assert scan.kind in {"product", "gs1", "weighed", "paycode", "other"}
    assert isinstance(scan.event(), dict)


def test_collision_helper() -> None:
    assert paycode.collides(18, "26") == "alipay"
    assert paycode.collides(18, "2") == "alipay"
    assert paycode.collides(18, "21") is None
    assert paycode.collides(13, "28") is None


def test_a_logged_payment_scan_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    code = "134567890123456789"
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").info("scanned %s %r", classify(code), classify(code))
    assert code not in caplog.text and "1345" in caplog.text
