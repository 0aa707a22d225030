from alembic import context

from ksef_tui.store import models  # noqa: F401  (tables registered on SQLModel.metadata)
from sqlmodel import SQLModel

config = context.config
db = config.attributes["database"]

with db.engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=db.dialect == "sqlite",
    )
    context.run_migrations()
