"""Alembic environment: run on the connection the registry hands over (``config.attributes['connection']``)."""

from alembic import context

from assay.registry._schema import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
