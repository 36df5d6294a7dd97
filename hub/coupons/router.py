from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.audit import service as audit
from hub.coupons import service as coupons
from hub.coupons.models import Coupon, CouponEvent, CouponTemplate
from hub.deps import Actor, session
from hub.inputs import INT32, Fen, In, RowId, When, errors
from hub.members.service import MemberNotFound
from hub.members.survivors import resolve
from transport.ids import new_id

router = APIRouter(tags=["coupons"], responses=errors(404, 409))
Db = Annotated[Session, Depends(session)]


_In = In
Id = Annotated[str, Field(min_length=1, max_length=64)]
Text200 = Annotated[str, Field(max_length=200)]
Count = Annotated[int, Field(gt=0, le=INT32[1])]


class TemplateIn(_In):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Literal["amount_off", "percent_off", "threshold", "gift"]
    amount_fen: Fen = 0
    percent_off: Annotated[int, Field(ge=0, le=100)] = 0
    cap_fen: Fen | None = None
    threshold_fen: Fen = 0
    gift_sku: Text200 | None = None
    stores: Annotated[list[Id], Field(max_length=10_000)] = Field(default_factory=list)
    categories: Annotated[list[Text200], Field(max_length=10_000)] = Field(default_factory=list)
    skus: Annotated[list[Text200], Field(max_length=10_000)] = Field(default_factory=list)
    valid_from: When | None = None
    valid_until: When | None = None
    valid_days: Annotated[int, Field(gt=0, le=3650)] | None = None
    per_member_limit: Count | None = None
    total_limit: Count | None = None
    stackable: bool = False
    on_promoted_lines: bool = True
    trigger: Annotated[str, Field(max_length=64)] | None = None
    active: bool = True

    @model_validator(mode="after")
    def _sense(self) -> TemplateIn:
        for ts in (self.valid_from, self.valid_until):
            if ts is not None and ts.tzinfo is None:
                raise ValueError("valid_from/valid_until need a UTC offset")
        if self.valid_until is None and self.valid_days is None:
            raise ValueError("give valid_until (fixed dates) or valid_days (N days from issue)")
        if self.kind in ("amount_off", "threshold") and self.amount_fen <= 0:
            raise ValueError(f"a {self.kind} coupon needs amount_fen > 0")
        if self.kind == "threshold" and self.threshold_fen <= 0:
            raise ValueError("a threshold coupon needs threshold_fen > 0")
        if self.kind == "percent_off" and not 0 < self.percent_off < 100:
            raise ValueError("a percent_off coupon needs percent_off between 1 and 99")
        if self.kind == "gift" and not self.gift_sku:
            raise ValueError("a gift coupon needs gift_sku")
        return self


class IssueIn(_In):
    member_ids: Annotated[list[Id], Field(min_length=1, max_length=10_000)]
    key: Annotated[str, Field(min_length=1, max_length=64)] | None = None


# protocols.coupons.BasketLine as the API's schema (the contract's type is a msgspec Struct,
# which FastAPI cannot describe); `coupons.check` reads either by attribute
class BasketLine(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    sku: str
    category: str | None = None
    qty_milli: Annotated[int, Field(strict=True, gt=0)] = 1000
    unit_price_fen: Annotated[int, Field(strict=True, ge=0)] = 0
    discount_fen: Annotated[int, Field(strict=True, ge=0)] = 0  # taken off by promotions
    total_fen: Annotated[int, Field(strict=True, ge=0)]


class CheckIn(_In):
    member_id: Id | None = None
    store: Id | None = None
    lines: Annotated[list[BasketLine], Field(max_length=1000)] = Field(default_factory=list)
    other_codes: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=100)] = (
        Field(default_factory=list)
    )


class RedeemIn(_In):
    member_id: Id | None = None
    store: Id | None = None
    order_id: Id | None = None  # the sale or online order it pays for


class VoidIn(_In):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


def _template(t: CouponTemplate) -> dict[str, Any]:
    return {c.key: getattr(t, c.key) for c in CouponTemplate.__table__.columns}


@router.get("/coupons/templates")
def templates(db: Db) -> dict[str, Any]:
    with db.begin():
        rows = db.scalars(select(CouponTemplate).order_by(CouponTemplate.id))
        return {"templates": [_template(t) for t in rows]}


@router.post("/coupons/templates", status_code=201)
def add_template(body: TemplateIn, db: Db, who: Actor) -> dict[str, Any]:
    with db.begin():
        t = CouponTemplate(**body.model_dump())
        db.add(t)
        db.flush()
        audit.record(db, who, "coupon.template", str(t.id), None, _template(t))
        return _template(t)


@router.put("/coupons/templates/{template_id}")
def put_template(template_id: RowId, body: TemplateIn, db: Db, who: Actor) -> dict[str, Any]:
    """Change a template; coupons already issued keep their own validity dates."""
    with db.begin():
        t = db.get(CouponTemplate, template_id, with_for_update=True)
        if t is None:
            raise coupons.CouponNotFound(f"no coupon template {template_id}")
        before = _template(t)
        for k, v in body.model_dump().items():
            setattr(t, k, v)
        audit.record(db, who, "coupon.template", str(template_id), before, _template(t))
        return _template(t)


@router.post("/coupons/templates/{template_id}/issue", status_code=201)
def issue(template_id: RowId, body: IssueIn, db: Db, who: Actor) -> dict[str, Any]:
    """By hand (one member) or in bulk (a list). With the same `key` again, nothing more is
    issued to members who already got one."""
    with db.begin():
        if db.get(CouponTemplate, template_id) is None:
            raise coupons.CouponNotFound(f"no coupon template {template_id}")
        owners = resolve(db, body.member_ids)
        unknown = [m for m in body.member_ids if m not in owners]
        if unknown:
            raise MemberNotFound(f"unknown members: {', '.join(unknown[:10])}")
        source = "manual" if len(body.member_ids) == 1 else "bulk"
        key = body.key or new_id()
        done = coupons.issue_bulk(
            db, template_id, [owners[m] for m in body.member_ids], key, source
        )
        members = body.member_ids[:50]  # a bulk issue names its first members and the count
        after = {"key": key, "members": members, "count": len(body.member_ids), "result": done}
        audit.record(db, who, "coupon.issue", str(template_id), None, after)
        return done


@router.get("/coupons/{code}")
def get_coupon(code: str, db: Db) -> dict[str, Any]:
    with db.begin():
        c, t = coupons.load(db, code)
        events = db.scalars(select(CouponEvent).where(CouponEvent.code == c.code))
        return {
            **coupons.describe(c, t),
            "events": [
                {
                    "kind": e.kind,
                    "at": e.at,
                    "sale_id": e.sale_id,
                    "store": e.store_id,
                    "detail": e.detail,
                }
                for e in events
            ],
        }


@router.post("/coupons/{code}/check")
def check(code: str, body: CheckIn, db: Db) -> dict[str, Any]:
    with db.begin():
        owner = resolve(db, [body.member_id]).get(body.member_id) if body.member_id else None
        return coupons.check(
            db,
            code,
            member_id=owner,
            lines=body.lines,
            store=body.store,
            other_codes=body.other_codes,
        )


@router.post("/coupons/{code}/redeem")
def redeem(code: str, body: RedeemIn, db: Db) -> dict[str, Any]:
    """Use a coupon outside a lane (an online order). Exactly one request wins."""
    with db.begin():
        owner = resolve(db, [body.member_id]).get(body.member_id) if body.member_id else None
        r = coupons.redeem(
            db, code, sale_id=body.order_id or new_id(), store_id=body.store, member_id=owner
        )
        if not r.ok:
            raise coupons.CouponError(f"coupon not redeemed: {r.reason}")
        return {"code": r.code, "redeemed": True, "again": r.already}


@router.post("/coupons/{code}/void")
def void(code: str, body: VoidIn, db: Db) -> dict[str, Any]:
    with db.begin():
        return coupons.describe(coupons.void(db, code, body.reason))


@router.get("/members/{member_id}/coupons")
def member_coupons(member_id: str, db: Db, status: str | None = None) -> dict[str, Any]:
    with db.begin():
        owner = resolve(db, [member_id]).get(member_id) or member_id
        q = (
            select(Coupon, CouponTemplate)
            .join(CouponTemplate, CouponTemplate.id == Coupon.template_id)
            .where(Coupon.member_id == owner)
            .order_by(Coupon.valid_until)
        )
        if status:
            q = q.where(Coupon.status == status)
        return {"coupons": [coupons.describe(c, t) for c, t in db.execute(q)]}
