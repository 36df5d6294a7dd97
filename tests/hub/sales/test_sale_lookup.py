"""RPC `sale.lookup` on a real database (SQLite file; PostgreSQL when configured): a lane of
another store asks for a sale by id and gets what its returns screen needs (lines, tenders,
change, member and the points earned, coupons, the selling store, what earlier refunds at any
store gave back); an unknown sale is a 404, a bad id a 422; it only reads."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError

from hub.app import rpc_methods
from hub.db import Database, utcnow
from hub.members.service import Members
from hub.rpc import RpcServer
from hub.sales.models import RefundClaim
from protocols import rpc
from tests.hub.till import Till, line, register
from transport.ids import new_id


def ask(server: RpcServer, params: dict[str, Any]) -> rpc.Reply:
    """The request as store s3's lane 2 sends it."""
    req = rpc.Request(id=new_id(), method="sale.lookup", params=params, lane="2")
    out = server.handle("s3", "g1", rpc.encode(req))
    assert out is not None
    return rpc.parse_reply(out)


def test_a_sale_of_another_store_with_what_is_left_to_return(db: Database, members: Members):
    m = register(db, members, "13800138100")
    a, b = Till(db, "s1", "g1"), Till(db, "s2", "g1")
    sale = a.sale([line("A", 6000), line("B", 4000)], member=m)  # ¥100.00 by WeChat: 100 points
    a.send(sale)
    b.send(b.refund(sale, 2500))  # store s2 gave ¥25.00 of it back already
    server = RpcServer(db, rpc_methods(members))

    got = ask(server, {"sale_id": sale["id"].upper()})  # typed from the receipt
    assert got.ok and got.result, got.error
    r = got.result
    assert (r["id"], r["store"], r["receipt_no"]) == (sale["id"], "s1", sale["body"]["receipt_no"])
    assert [(x["n"], x["sku"], x["name"], x["qty_milli"], x["total_fen"]) for x in r["lines"]] == [
        (1, "A", "item A", 1000, 6000),
        (2, "B", "item B", 1000, 4000),
    ]
    assert [(p["tender"], p["amount_fen"]) for p in r["payments"]] == [("wechat", 10000)]
    assert (r["change_fen"], r["member_id"], r["points_earned"]) == (0, m, 100)
    assert (r["total_fen"], r["refunded_fen"], r["fen_left"]) == (10000, 2500, 7500)
    (earlier,) = r["refunds"]
    assert earlier["store"] == "s2" and earlier["total_fen"] == 2500
    assert [(p["tender"], p["amount_fen"]) for p in earlier["payments"]] == [("wechat", 2500)]
    assert [(x["sku"], x["qty_milli"], x["amount_fen"]) for x in earlier["lines"]] == [
        ("A", 1, 2500)
    ]


def test_unknown_and_bad_ids_are_refused_with_their_status(db: Database, members: Members):
    server = RpcServer(db, rpc_methods(members))
    unknown = ask(server, {"sale_id": new_id()})
    assert (unknown.ok, unknown.status) == (False, 404) and "not at the hub" in str(unknown.error)
    for bad in ("20261123-1-0001", "../../etc/passwd", "x" * 64):
        r = ask(server, {"sale_id": bad})
        assert (r.ok, r.status) == (False, 422) and "not a sale id" in str(r.error), bad
    for params in ({}, {"sale_id": 7}, {"sale_id": "x" * 65}, {"sale_id": new_id(), "x": 1}):
        r = ask(server, params)
        assert (r.ok, r.status) == (False, 422), params


def test_it_reads_without_the_write_lock_and_cannot_write(db: Database, members: Members):
    till = Till(db, "s1", "g1")
    sale = till.sale()
    till.send(sale)
    server = RpcServer(db, rpc_methods(members))
    with db.transaction() as writer:  # ingest, say, holds SQLite's write lock meanwhile
        writer.execute(text("SELECT 1"))
        got = ask(server, {"sale_id": sale["id"]})
        assert got.ok and got.result and got.result["fen_left"] == sale["body"]["total_fen"]
    if db.is_sqlite:
        return  # a deferred BEGIN only reads until it writes: PostgreSQL refuses the write
    claim = {
        "id": new_id(),
        "sale_id": sale["id"],
        "store_id": "s3",
        "gateway_id": "g1",
        "total_fen": 1,
        "shares": [],
        "created_at": utcnow(),
        "expires_at": utcnow(),
    }
    with pytest.raises(DBAPIError, match="read-only transaction"), db.reading() as s:
        s.execute(insert(RefundClaim).values(**claim))
