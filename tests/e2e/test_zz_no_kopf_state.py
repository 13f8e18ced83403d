"""After the e2e suite (this module runs last): kopf wrote nothing onto any kubetune object. GitOps tools show a
last-handled-configuration annotation as drift, and kopf's progress annotations double the object in etcd; every kind
is followed through watch events into the operator's own work queues instead. The audit watched every object of the
session, including those deleted long before this test."""

from __future__ import annotations

import pytest

from kubetune_devcluster.operator_process import OperatorProcess

from .conftest import KopfAudit

pytestmark = [pytest.mark.cluster]


def test_no_kopf_annotation_or_foreign_finalizer_on_any_kubetune_object(kopf_audit: KopfAudit,
                                                                      operator: OperatorProcess) -> None:
    assert kopf_audit.problems == []
    # It ran alone (pytest -k) when it saw no object: then there is nothing to conclude.
    if not kopf_audit.seen:
        pytest.skip("no kubetune object was created in this session")
    print(f"{len(kopf_audit.seen)} kubetune objects audited")
