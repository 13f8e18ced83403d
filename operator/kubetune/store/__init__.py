"""The database mirror: every kubetune object's state and history in PostgreSQL (psycopg 3) or an embedded SQLite
file, through SQLAlchemy 2, with the schema managed by Alembic migrations shipped in this package.

What belongs here: the tables (``tables``), turning objects and records into rows (``snapshots``, ``records``), the
SQL (``writes``), the writer (``mirror``), migrations (``migrate``, ``migrations/``), the cluster listing it relists
with (``listing``), ``kubetune db resync`` (``resync``), and the client of the trainer's loss-curve endpoint
(``trainer_history``). Not here: deciding anything about the objects (controllers), or reading the mirror for users
(the CLI's and dashboard's own modules).

The interface the operator wires (all on its event loop)::

    mirror = Mirror.from_settings(settings, lister=cluster_lister(client, namespaces), namespaces=namespaces)
    await mirror.start()                      # at start-up; returns at once (connects, migrates, retries inside)
    mirror.observe(event_type, body)          # every watch event of TrainingJob, FineTunedModel, ModelComparison
    mirror.record_training_metrics(job_uid, points)    # HistoryPoints from fetch_history(...)
    mirror.record_deployment(model_uid=..., namespace=..., model=..., target=..., pod=..., action="load",
                             outcome="succeeded", latency_ms=..., served_name=..., message=...)
    mirror.record_samples(comparison_uid, samples)     # each with an integer ``index``
    await mirror.last_training_step(job_uid)  # where to fetch /history from after a restart (None: from 0)
    await mirror.stop()                       # at cleanup: writes what it holds (10 s at most)

``observe`` and ``record_*`` never block and never raise for a database problem: they add to a bounded buffer that
one writer task drains in batches. Guarantees: a row per object keyed by uid that an older snapshot never overwrites
(resourceVersions compared per KEP-5504), ``deleted_at`` set on deletion (watch event or relist) and never cleared;
history rows keyed naturally (job uid + step; model uid + pod + action + time; comparison uid + index), so replays add
nothing twice; a database outage loses nothing while the buffer holds (KUBETUNE_MIRROR_QUEUE_BOUND), and current
state catches up by a relist on reconnect. See docs/mirror.md.
"""

from .database import redact, resolve_url
from .errors import DatabaseUnavailable, HistoryUnavailable, InvalidDatabaseUrl, MigrationFailed, StoreError
from .listing import cluster_lister
from .migrate import current, head, upgrade
from .mirror import Lister, Listing, Mirror, MirrorSettings, MirrorStats
from .trainer_history import fetch_history

__all__ = [
    "DatabaseUnavailable",
    "HistoryUnavailable",
    "InvalidDatabaseUrl",
    "Lister",
    "Listing",
    "MigrationFailed",
    "Mirror",
    "MirrorSettings",
    "MirrorStats",
    "StoreError",
    "cluster_lister",
    "current",
    "fetch_history",
    "head",
    "redact",
    "resolve_url",
    "upgrade",
]
