"""Materialise a pod's volumes as host directories, the way a kubelet's volume manager would."""

from __future__ import annotations

import base64
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..kubeapi import ApiError, Json, KubeREST


class VolumeNotReady(Exception):
    """A referenced object (ConfigMap, Secret, PVC) is missing or unbound; the kubelet would retry."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    read_only: bool

    def as_json(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "readOnly": self.read_only}


def _write_files(directory: Path, files: dict[str, bytes], mode: int | None) -> None:
    # Write into a fresh directory and swap it in, so a container never sees a half-written volume.
    tmp = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for rel, data in files.items():
        target = tmp / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        target.chmod(mode if mode is not None else 0o644)
    if directory.exists():
        shutil.rmtree(directory)
    tmp.rename(directory)


def _select_items(data: dict[str, bytes], items: list[Json] | None, what: str) -> dict[str, bytes]:
    if not items:
        return dict(data)
    selected = {}
    for item in items:
        if item["key"] not in data:
            raise VolumeNotReady("CreateContainerConfigError", f"{what} has no key {item['key']!r}")
        selected[item["path"]] = data[item["key"]]
    return selected


class VolumeBuilder:
    """Builds the host side of every volume of one pod under ``pod_dir/volumes``."""

    def __init__(self, api: KubeREST, pod: Json, pod_dir: Path, pod_ip: str, ca_pem: bytes) -> None:
        self.api = api
        self.pod = pod
        self.ns = pod["metadata"]["namespace"]
        self.root = pod_dir / "volumes"
        self.pod_ip = pod_ip
        self.ca_pem = ca_pem

    def build_all(self) -> dict[str, Path]:
        """Return the host path of each volume by name; raise VolumeNotReady to be retried."""
        paths: dict[str, Path] = {}
        for volume in self.pod["spec"].get("volumes") or []:
            paths[volume["name"]] = self.build(volume)
        return paths

    def build(self, volume: Json) -> Path:
        name = volume["name"]
        target = self.root / name
        if "emptyDir" in volume:
            target.mkdir(parents=True, exist_ok=True)
            target.chmod(0o777)
            return target
        if "hostPath" in volume:
            path = Path(volume["hostPath"]["path"])
            kind = volume["hostPath"].get("type", "")
            if kind == "DirectoryOrCreate":
                path.mkdir(parents=True, exist_ok=True)
            elif kind == "FileOrCreate":
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch(exist_ok=True)
            elif not path.exists() and kind in ("Directory", "File"):
                raise VolumeNotReady("FailedMount", f"hostPath {path} does not exist")
            return path
        if "configMap" in volume:
            _write_files(target, self._config_map_files(volume["configMap"]), volume["configMap"].get("defaultMode"))
            return target
        if "secret" in volume:
            _write_files(target, self._secret_files(volume["secret"]), volume["secret"].get("defaultMode", 0o644))
            return target
        if "persistentVolumeClaim" in volume:
            return self._claim_path(volume["persistentVolumeClaim"]["claimName"])
        if "projected" in volume:
            files: dict[str, bytes] = {}
            for source in volume["projected"].get("sources") or []:
                files.update(self._projected_source(source))
            _write_files(target, files, volume["projected"].get("defaultMode"))
            return target
        if "downwardAPI" in volume:
            _write_files(target, self._downward_files(volume["downwardAPI"].get("items") or []),
                         volume["downwardAPI"].get("defaultMode"))
            return target
        raise VolumeNotReady("FailedMount", f"volume {name!r}: this volume type is not supported by the process node")

    # -- sources -----------------------------------------------------------------------------------------------
    def _config_map_files(self, ref: Json) -> dict[str, bytes]:
        cm = self.api.get_or_none(KubeREST.path_for("ConfigMap", self.ns, ref["name"]))
        if cm is None:
            if ref.get("optional"):
                return {}
            raise VolumeNotReady("FailedMount", f'configmap "{ref["name"]}" not found')
        data = {k: v.encode() for k, v in (cm.get("data") or {}).items()}
        data.update({k: base64.b64decode(v) for k, v in (cm.get("binaryData") or {}).items()})
        return _select_items(data, ref.get("items"), f'configmap "{ref["name"]}"')

    def _secret_files(self, ref: Json) -> dict[str, bytes]:
        name = ref.get("secretName") or ref.get("name")
        secret = self.api.get_or_none(KubeREST.path_for("Secret", self.ns, name))
        if secret is None:
            if ref.get("optional"):
                return {}
            raise VolumeNotReady("FailedMount", f'secret "{name}" not found')
        data = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
        return _select_items(data, ref.get("items"), f'secret "{name}"')

    def _projected_source(self, source: Json) -> dict[str, bytes]:
        if "serviceAccountToken" in source:
            sat = source["serviceAccountToken"]
            return {sat["path"]: self._token(sat).encode()}
        if "configMap" in source:
            ref = source["configMap"]
            if ref["name"] == "kube-root-ca.crt":
                # The root CA publisher may lag behind a new namespace; the node knows the CA itself.
                data = {"ca.crt": self.ca_pem}
                return _select_items(data, ref.get("items"), "kube-root-ca.crt")
            return self._config_map_files(ref)
        if "secret" in source:
            return self._secret_files(source["secret"])
        if "downwardAPI" in source:
            return self._downward_files(source["downwardAPI"].get("items") or [])
        return {}

    def _downward_files(self, items: list[Json]) -> dict[str, bytes]:
        files = {}
        for item in items:
            if "fieldRef" in item:
                files[item["path"]] = field_ref(self.pod, item["fieldRef"]["fieldPath"], self.pod_ip).encode()
        return files

    def _token(self, sat: Json) -> str:
        meta = self.pod["metadata"]
        sa = self.pod["spec"].get("serviceAccountName") or "default"
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {
                "audiences": [sat["audience"]] if sat.get("audience") else None,
                "expirationSeconds": sat.get("expirationSeconds", 3607),
                "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": meta["name"], "uid": meta["uid"]},
            },
        }
        try:
            result = self.api.create(KubeREST.path("v1", "serviceaccounts", self.ns, sa, "token"), body)
        except ApiError as e:
            raise VolumeNotReady("FailedMount", f"cannot request a token for service account {sa}: {e}") from e
        return str(result["status"]["token"])

    def _claim_path(self, claim: str) -> Path:
        pvc = self.api.get_or_none(KubeREST.path_for("PersistentVolumeClaim", self.ns, claim))
        if pvc is None:
            raise VolumeNotReady("FailedMount", f'persistentvolumeclaim "{claim}" not found')
        if pvc.get("status", {}).get("phase") != "Bound":
            raise VolumeNotReady("FailedMount", f'persistentvolumeclaim "{claim}" is not bound')
        pv = self.api.get(KubeREST.path_for("PersistentVolume", name=pvc["spec"]["volumeName"]))
        spec = pv["spec"]
        path = (spec.get("hostPath") or spec.get("local") or {}).get("path")
        if not path:
            raise VolumeNotReady("FailedMount", f"volume {pv['metadata']['name']} has no hostPath or local path")
        Path(path).mkdir(parents=True, exist_ok=True)
        return Path(path)


def field_ref(pod: Json, field_path: str, pod_ip: str) -> str:
    """Resolve a downward-API ``fieldPath`` against a pod."""
    meta = pod["metadata"]
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": pod["spec"].get("nodeName", ""),
        "spec.serviceAccountName": pod["spec"].get("serviceAccountName", ""),
        "status.podIP": pod_ip,
        "status.podIPs": pod_ip,
        "status.hostIP": "127.0.0.1",
        "status.hostIPs": "127.0.0.1",
    }
    if field_path in simple:
        return simple[field_path]
    for prefix, source in (("metadata.labels", "labels"), ("metadata.annotations", "annotations")):
        values = meta.get(source) or {}
        if field_path == prefix:
            return "\n".join(f'{k}="{v}"' for k, v in sorted(values.items()))
        if field_path.startswith(prefix + "['") and field_path.endswith("']"):
            return str(values.get(field_path[len(prefix) + 2 : -2], ""))
    raise VolumeNotReady("CreateContainerConfigError", f"unsupported fieldPath {field_path!r}")


def cleanup(pod_dir: Path) -> None:
    shutil.rmtree(pod_dir / "volumes", ignore_errors=True)
