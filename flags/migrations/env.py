"""Alembic environment: the quantgate tables of the flag store's database."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import flags.access  # noqa: F401 - registers the console-session and auth-failure tables on the metadata
import flags.comparisons  # noqa: F401 - registers the comparison table on the metadata
import flags.model  # noqa: F401 - registers the flag tables on the metadata
import flags.read_audit  # noqa: F401 - registers the read-audit table on the metadata
import flags.validations  # noqa: F401 - registers the validation table on the metadata
from flags.engine import make_engine

target_metadata = SQLModel.metadata
connection = context.config.attributes.get("connection")

if connection is not None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
