"""Alembic migrations of the SQL store's schema; `store.sql` runs them at startup."""
