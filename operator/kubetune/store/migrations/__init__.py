"""Alembic's environment and the mirror's schema versions (``versions/``), shipped in the package so that
``kubetune db upgrade`` and the operator's migrate-at-start work from the wheel. ``kubetune.store.migrate`` runs them;
no alembic.ini is needed."""
