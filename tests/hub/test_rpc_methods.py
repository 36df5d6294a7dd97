"""Every lane call of the contract is answered by exactly the context it belongs to, and the
server refuses to start with one missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.app import rpc_methods
from hub.coupons import rpc as coupons_rpc
from hub.db import Database
from hub.loyalty import rpc as points_rpc
from hub.members.service import Members
from hub.members.vault import Vault
from hub.rpc import RpcServer
from hub.sales import rpc as refunds_rpc
from protocols import rpc


def test_every_method_of_the_contract_has_its_handler(tmp_path: Path) -> None:
    methods = rpc_methods(Members(Vault.load(tmp_path)))
    assert set(methods) == set(rpc.PARAMS)
    assert methods["coupon.reserve"] is coupons_rpc.reserve
    assert methods["points.commit"] is points_rpc.commit
    assert methods["refund.claim"] is refunds_rpc.claim
    db = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        assert RpcServer(db, methods).methods == methods
        without = {k: v for k, v in methods.items() if k != "refund.release"}
        with pytest.raises(ValueError, match=r"refund\.release"):
            RpcServer(db, without)
    finally:
        db.engine.dispose()
