"""Every bounded context's tables, imported once so Base.metadata knows them all (Alembic)."""

from hub.accounts import models as accounts_models  # noqa: F401
from hub.analytics import models as analytics_models  # noqa: F401
from hub.audit import models as audit_models  # noqa: F401
from hub.auth import models as auth_models  # noqa: F401
from hub.catalog import models as catalog_models  # noqa: F401
from hub.coupons import models as coupons_models  # noqa: F401
from hub.forecast import models as forecast_models  # noqa: F401
from hub.ingest import models as ingest_models  # noqa: F401
from hub.loyalty import models as loyalty_models  # noqa: F401
from hub.mall import models as mall_models  # noqa: F401
from hub.members import models as members_models  # noqa: F401
from hub.notify import models as notify_models  # noqa: F401
from hub.pairing import models as pairing_models  # noqa: F401
from hub.pickup import models as pickup_models  # noqa: F401
from hub.pricing import models as pricing_models  # noqa: F401
from hub.purchasing import models as purchasing_models  # noqa: F401
from hub.replenishment import models as replenishment_models  # noqa: F401
from hub.sales import models as sales_models  # noqa: F401
from hub.stock import models as stock_models  # noqa: F401
from hub.stores import models as stores_models  # noqa: F401
from hub.tiers import models as tiers_models  # noqa: F401
