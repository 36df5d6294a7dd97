"""Alembic environment: the engine comes from hub.db (never from an ini file)."""

from alembic import context

import hub.models  # noqa: F401 - every context's tables on Base.metadata
from hub.db import Base

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=engine.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
