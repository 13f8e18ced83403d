"""What every operator-made batch/v1 Job shares: is it finished, how old is it, and why can it not create its pod."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..kube import KubeClient
from ..kube.client import EVENTS

Json = dict[str, Any]
# The Job controller creates a pod within moments; only a Job older than this is asked why it has none (one more
# request per pass, which a burst of new jobs should not pay).
POD_CREATION_GRACE = 5.0


def age(obj: Json, now: datetime) -> float:
    created = obj["metadata"].get("creationTimestamp")
    if not created:
        return 0.0
    return (now - datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)).total_seconds()


def finished(job: Json) -> bool:
    return any(c.get("type") in ("Complete", "Failed", "FailureTarget", "SuccessCriteriaMet")
               and c.get("status") == "True" for c in job.get("status", {}).get("conditions") or [])


def job_condition(job: Json, kind: str) -> Json | None:
    """The Job's condition of type ``kind`` when it is True."""
    for c in job.get("status", {}).get("conditions") or []:
        if c.get("type") == kind and c.get("status") == "True":
            return c
    return None


def container_status(pod: Json, name: str) -> Json:
    """The status of the pod's container ``name`` (empty while the kubelet has reported none)."""
    for status in pod.get("status", {}).get("containerStatuses") or []:
        if status.get("name") == name:
            return dict(status)
    return {}


async def pod_creation_failure(client: KubeClient, job: Json, pods: list[Json]) -> str | None:
    """Why the Job controller cannot create the pod, from its newest FailedCreate event after the newest pod (a quota
    that needs requests, a PriorityClass that does not exist); None when it has not failed to."""
    meta = job["metadata"]
    events = await client.list(EVENTS, meta["namespace"],
                               field_selector=f"involvedObject.uid={meta['uid']},reason=FailedCreate")
    newest_pod = max((p["metadata"].get("creationTimestamp", "") for p in pods), default="")

    def when(event: Json) -> str:
        return str(event.get("lastTimestamp") or event.get("eventTime") or event["metadata"].get("creationTimestamp")
                   or "")

    recent = [e for e in events if when(e) >= newest_pod]
    if not recent:
        return None
    return str(max(recent, key=when).get("message") or "FailedCreate")
