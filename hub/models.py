"""Every bounded context's tables, imported once so Base.metadata knows them all (Alembic)."""

from hub.auth import models as auth_models  # noqa: F401
from hub.ingest import models as ingest_models  # noqa: F401
from hub.sales import models as sales_models  # noqa: F401
from hub.stores import models as stores_models  # noqa: F401
