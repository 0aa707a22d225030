from alembic import context
from sqlmodel import SQLModel

from ksef_tui.store import models  # noqa: F401  (tables registered on SQLModel.metadata)

config = context.config
db = config.attributes["database"]

# One transaction for the whole upgrade or downgrade, taken before the current revision is
# read: two programs starting together on a new or old database migrate it once, and a
# failing or refused step leaves the schema as it was (SQLite and PostgreSQL both have
# transactional DDL).
with db.engine.begin() as connection:
    if db.dialect == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif db.dialect == "postgresql":
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7263810021)")
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=db.dialect == "sqlite",
        transaction_per_migration=False,
    )
    context.run_migrations()
