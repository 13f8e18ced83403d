"""The store's errors, by meaning. Messages never contain a password: URLs in them are redacted."""

from __future__ import annotations


class StoreError(Exception):
    """Base of the store's errors."""


class InvalidDatabaseUrl(StoreError):
    """KUBETUNE_DATABASE_URL (or --url) is not a URL the mirror can use."""


class DatabaseUnavailable(StoreError):
    """The database could not be reached, or dropped the connection."""


class MigrationFailed(StoreError):
    """Upgrading the schema failed for another reason than reachability."""


class HistoryUnavailable(StoreError):
    """A training pod's /history could not be read (unreachable, an error status, or not the contract's JSON)."""
