"""The one refund rule (protocols/refunds.py) the lane and the hub both apply."""

from __future__ import annotations

import pytest

from protocols.refunds import Refundable, Refusal, SoldLine, is_sale_id


def sale() -> Refundable:
    # the same SKU scanned twice (one with a discount), and a sale-level discount of 500
    lines = [
        SoldLine(1, "MILK", 2000, 700),
        SoldLine(2, "BREAD", 1000, 1200),
        SoldLine(3, "MILK", 1000, 350),
    ]
    return Refundable(lines, total_fen=1750)


def test_a_sku_on_several_lines_is_one_pool_taken_in_line_order():
    r = sale()
    assert r.take([{"sku": "MILK", "qty_milli": 2500, "amount_fen": 875}]) == [
        (1, 2000, 700),
        (3, 500, 175),
    ]
    with pytest.raises(Refusal, match=r"exceeds what is left on that line \(500 milli, 175"):
        r.take([{"sku": "MILK", "qty_milli": 1000, "amount_fen": 1}])
    assert r.left()["total_fen"] == 875


def test_a_named_line_must_carry_the_sku():
    r = sale()
    with pytest.raises(Refusal) as err:
        r.take([{"sku": "MILK", "qty_milli": 1000, "amount_fen": 100, "line": 2}])
    assert err.value.status == 422
    assert r.take([{"sku": "MILK", "qty_milli": 1000, "amount_fen": 350, "line": 3}]) == [
        (3, 1000, 350)
    ]


def test_the_sale_total_bounds_lines_that_add_up_to_more():
    r = sale()  # lines 2,250 but the sale took 1,750 after its own discount
    with pytest.raises(Refusal, match="exceeds the 1750 fen left on the sale") as err:
        r.take(
            [
                {"sku": "BREAD", "qty_milli": 1000, "amount_fen": 1200},
                {"sku": "MILK", "qty_milli": 3000, "amount_fen": 1050},
            ]
        )
    assert err.value.status == 409 and r.refunded_fen == 0  # nothing counted


def test_an_unknown_sku_and_non_sale_ids_are_refused():
    with pytest.raises(Refusal, match="SKU EGGS is not in the sale") as err:
        sale().take([{"sku": "EGGS", "qty_milli": 1000, "amount_fen": 1}])
    assert err.value.status == 422
    assert is_sale_id("01a22170-1111-7000-8000-000000000001")
    for bad in ("../../etc/passwd", "", "01A22170-1111-7000-8000-000000000001", "x" * 36):
        assert not is_sale_id(bad)
