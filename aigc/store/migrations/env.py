"""Alembic's entry point: runs the migrations on the connection aigc.store hands over, inside
the transaction (and lock) it has already begun."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection)
with context.begin_transaction():  # the caller's transaction: nothing new is begun
    context.run_migrations()
