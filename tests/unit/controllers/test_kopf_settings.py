"""kopf is only kubetune's event source: no handler reads the per-event diff that NoDiffBase stops kopf from
building, and kopf keeps no state on the objects."""

from __future__ import annotations

import kopf

import kubetune.controllers  # noqa: F401  (registers every handler, as `kubetune operator` does)
from kubetune.controllers.startup import NoDiffBase, configure


def test_only_watch_event_handlers_are_registered() -> None:
    registry = kopf.get_default_registry()
    assert len(registry._watching.get_all_handlers()) >= 8
    # Create/update/delete handlers (changing) and daemons or timers (spawning) would need kopf's diff base.
    assert registry._changing.get_all_handlers() == []
    assert registry._spawning.get_all_handlers() == []


def test_the_diff_base_is_not_built() -> None:
    settings = kopf.OperatorSettings()
    configure(settings)
    storage = settings.persistence.diffbase_storage
    assert isinstance(storage, NoDiffBase)
    body = kopf.Body({"metadata": {"name": "x"}, "spec": {"big": list(range(1000))}})
    assert storage.build(body=body) == {}
    assert storage.fetch(body=body) is None
