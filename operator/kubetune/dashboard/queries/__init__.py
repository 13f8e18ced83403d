"""What the dashboard reads from the mirror: one module per page family (overview, training, models, comparisons),
each a set of functions ``(connection, ...) -> frozen dataclasses``, run by ``ReadOnlyDatabase.read``. SELECTs only,
over ``kubetune.store.tables``; nothing here renders or knows about HTTP.
"""
