"""The mirror's Prometheus metrics, in the default registry the operator serves on KUBETUNE_METRICS_PORT."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

QUEUE_DEPTH = Gauge("kubetune_mirror_queue_depth", "Records waiting to be written to the mirror's database.")
WRITE_SECONDS = Histogram("kubetune_mirror_write_seconds", "Time to write and commit one batch.",
                          buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
LAG_SECONDS = Histogram("kubetune_mirror_lag_seconds", "Time from a record's arrival to its commit.",
                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
ROWS_WRITTEN = Counter("kubetune_mirror_rows_written_total", "Rows written (upserted or inserted), by table.",
                       ["table"])
ROWS_DROPPED = Counter("kubetune_mirror_rows_dropped_total",
                       "Records dropped: the buffer was full (snapshot, history) or the database refused the row "
                       "(rejected).", ["reason"])
DATABASE_UP = Gauge("kubetune_mirror_database_up", "1 when the last write or connection attempt succeeded.")
RELISTS = Counter("kubetune_mirror_relists_total", "Relists of the cluster, by result (ok, error).", ["result"])
TOMBSTONED = Counter("kubetune_mirror_rows_tombstoned_total",
                     "Rows marked deleted because a relist no longer found their object.", ["table"])
