"""A dynamic volume provisioner for the process node: each claim of the ``kubetune-local`` class gets a directory.

It follows the external-provisioner protocol: the PV controller marks the claim, this creates a PersistentVolume with a
``hostPath`` and a ``claimRef``, and the PV controller binds the two. Released volumes are deleted with their data.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from pathlib import Path

from kubetune.kube.errors import error_for

from ..kubeapi import ApiError, Json, KubeREST

log = logging.getLogger(__name__)

PROVISIONER = "kubetune.dev/process-node"
STORAGE_CLASS = "kubetune-local"


def storage_class() -> Json:
    return {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": STORAGE_CLASS, "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": PROVISIONER, "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate",
    }


def volume_for(claim: Json, root: Path) -> Json:
    meta = claim["metadata"]
    spec = claim["spec"]
    size = spec.get("resources", {}).get("requests", {}).get("storage", "1Gi")
    return {
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": f"pvc-{meta['uid']}", "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER}},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": STORAGE_CLASS,
            "volumeMode": spec.get("volumeMode", "Filesystem"),
            "hostPath": {"path": str(root / f"{meta['namespace']}-{meta['name']}-{meta['uid'][:8]}"),
                         "type": "DirectoryOrCreate"},
            "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": meta["namespace"],
                         "name": meta["name"], "uid": meta["uid"]},
        },
    }


class Provisioner:
    def __init__(self, api: KubeREST, root: Path) -> None:
        self.api = api
        self.root = root
        self._stop = threading.Event()

    def ensure_storage_class(self) -> None:
        try:
            self.api.create(KubeREST.path_for("StorageClass"), storage_class())
        except ApiError as e:
            if e.status != 409:
                raise

    def _claim(self, claim: Json) -> None:
        if claim["spec"].get("volumeName") or claim.get("status", {}).get("phase") == "Bound":
            return
        if claim["spec"].get("storageClassName", STORAGE_CLASS) != STORAGE_CLASS:
            return
        pv = volume_for(claim, self.root)
        Path(pv["spec"]["hostPath"]["path"]).mkdir(parents=True, exist_ok=True)
        try:
            self.api.create(KubeREST.path_for("PersistentVolume"), pv)
        except ApiError as e:
            if e.status != 409:
                log.warning("cannot provision %s: %s", claim["metadata"]["name"], e)

    def _volume(self, pv: Json) -> None:
        annotations = pv["metadata"].get("annotations") or {}
        if annotations.get("pv.kubernetes.io/provisioned-by") != PROVISIONER:
            return
        released = pv.get("status", {}).get("phase") == "Released"
        if released and pv["spec"].get("persistentVolumeReclaimPolicy") == "Delete":
            shutil.rmtree(pv["spec"]["hostPath"]["path"], ignore_errors=True)
            self.api.delete(KubeREST.path_for("PersistentVolume", name=pv["metadata"]["name"]))

    def _loop(self, kind: str, handle: object) -> None:
        path = KubeREST.path_for(kind)
        while not self._stop.is_set():
            try:
                listing = self.api.get(path)
                for item in listing["items"]:
                    handle(item)  # type: ignore[operator]
                version = listing["metadata"]["resourceVersion"]
                while not self._stop.is_set():
                    for event in self.api.watch(path, version, timeout_seconds=120):
                        obj = event["object"]
                        if event["type"] == "ERROR":
                            raise error_for(int(obj.get("code", 500)), obj, "WATCH", path)
                        version = obj["metadata"]["resourceVersion"]
                        if event["type"] in ("ADDED", "MODIFIED"):
                            handle(obj)  # type: ignore[operator]
            except Exception as e:
                if not self._stop.is_set():
                    if not (isinstance(e, ApiError) and e.status == 410):
                        log.warning("%s watch failed: %s", kind, e)
                    time.sleep(1)

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.ensure_storage_class()
        threading.Thread(target=self._loop, args=("PersistentVolumeClaim", self._claim), daemon=True).start()
        threading.Thread(target=self._loop, args=("PersistentVolume", self._volume), daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
