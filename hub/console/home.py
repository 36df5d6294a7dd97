"""The home page's figures: the chain's (or a store manager's stores') net sales per business
day over the last two weeks, in fen, and the stores and gateways online."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.accounts.roles import STORE_MANAGER
from hub.accounts.service import Account
from hub.sales.models import Sale
from hub.stores.models import Gateway, Store

DAYS = 14


def figures(db: Session, account: Account, today: date) -> dict[str, Any]:
    first = today - timedelta(days=DAYS - 1)
    sales = select(Sale.business_day, func.sum(Sale.total_fen - Sale.refunded_fen)).where(
        Sale.business_day >= first
    )
    stores = select(func.count()).select_from(Store)
    online = select(func.count()).select_from(Gateway).where(Gateway.status == "online")
    if account.role == STORE_MANAGER:
        mine = list(account.stores)
        sales = sales.where(Sale.store_id.in_(mine))
        stores = stores.where(Store.id.in_(mine))
        online = online.where(Gateway.store_id.in_(mine))
    by_day = dict(db.execute(sales.group_by(Sale.business_day)).all())
    days = [first + timedelta(days=i) for i in range(DAYS)]
    return {
        "days": [d.isoformat() for d in days],
        "net_fen": [int(by_day.get(d) or 0) for d in days],
        "stores": db.scalar(stores) or 0,
        "gateways_online": db.scalar(online) or 0,
    }
