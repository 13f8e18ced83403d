"""``kubetune models [MODEL]``: every model name with its versions and where each is loaded; ``-o wide`` lists each
vLLM pod.

A successful TrainingJob registers FineTunedModel ``<modelName>-v<N>``, labelled ``kubetune.dev/model-name``;
FineTunedModels written by hand are grouped by that label too, else by their servedName.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import CliError
from .flags import add_cluster_flags, add_output_flag
from .kinds import FINETUNEDMODEL, MODEL_NAME_LABEL
from .session import Session, run

Json = dict[str, Any]
_VERSION = re.compile(r"^(?P<model>.+)-v(?P<n>\d+)$")


@dataclass(frozen=True)
class PodLoad:
    deployment: str
    pod: str
    ip: str
    loaded: bool
    loaded_at: str
    message: str


@dataclass(frozen=True)
class Version:
    name: str
    namespace: str
    number: int | None
    served_name: str
    phase: str
    loaded: str
    base_model: str
    created: str
    where: tuple[tuple[str, int, int], ...]  # (deployment, loaded replicas, ready replicas)
    pods: tuple[PodLoad, ...]


@dataclass
class ModelVersions:
    namespace: str
    model: str
    versions: list[Version] = field(default_factory=list)


def model_name(ftm: Json) -> tuple[str, int | None]:
    """(model name, version number) of a FineTunedModel."""
    meta = ftm.get("metadata") or {}
    served = (ftm.get("spec") or {}).get("servedName") or meta.get("name", "")
    label = (meta.get("labels") or {}).get(MODEL_NAME_LABEL)
    match = _VERSION.match(meta.get("name", "")) or _VERSION.match(served)
    number = int(match["n"]) if match else None
    if label:
        return label, number
    return (match["model"], number) if match else (served, None)


def version_of(ftm: Json) -> Version:
    meta, spec, status = ftm.get("metadata") or {}, ftm.get("spec") or {}, ftm.get("status") or {}
    targets = status.get("targets") or []
    pods = tuple(
        PodLoad(deployment=t.get("deployment", ""), pod=p.get("name", ""), ip=p.get("ip") or "",
                loaded=bool(p.get("loaded")), loaded_at=p.get("loadedAt") or "", message=p.get("message") or "")
        for t in targets for p in t.get("pods") or [])
    where = tuple((t.get("deployment", ""), int(t.get("loadedReplicas") or 0), int(t.get("readyReplicas") or 0))
                  for t in targets)
    return Version(name=meta.get("name", ""), namespace=meta.get("namespace", ""), number=model_name(ftm)[1],
                   served_name=spec.get("servedName", ""), phase=status.get("phase") or "-",
                   loaded=status.get("loaded") or "-", base_model=(spec.get("baseModel") or {}).get("name", ""),
                   created=meta.get("creationTimestamp", ""), where=where, pods=pods)


def group_versions(ftms: list[Json]) -> list[ModelVersions]:
    """Models sorted by namespace and name; versions oldest first (v1, v2, ..., then unnumbered by name)."""
    groups: dict[tuple[str, str], ModelVersions] = {}
    for ftm in ftms:
        ns = (ftm.get("metadata") or {}).get("namespace", "")
        model = model_name(ftm)[0]
        groups.setdefault((ns, model), ModelVersions(ns, model)).versions.append(version_of(ftm))
    for group in groups.values():
        group.versions.sort(key=lambda v: (v.number is None, v.number or 0, v.name))
    return [groups[k] for k in sorted(groups)]


def add_commands(subparsers: Any) -> None:
    models = subparsers.add_parser(
        "models", help="model names, their versions, and where each is loaded",
        description="Every model name with its versions (FineTunedModels <model>-v<N>) and the vLLM Deployments "
        "that have each loaded. -o wide shows one row per vLLM pod.")
    models.add_argument("model", nargs="?", metavar="MODEL", help="only this model name")
    add_cluster_flags(models, all_namespaces=True)
    add_output_flag(models)
    models.set_defaults(handler=models_command)


def models_command(args: argparse.Namespace) -> int:
    return run(args, lambda session: show(session, args.model, args.output))


def _where(version: Version) -> str:
    return ", ".join(f"{d} {loaded}/{ready}" for d, loaded, ready in version.where) or "not served"


def rows(groups: list[ModelVersions], wide: bool, namespaces: bool) -> tuple[list[str], list[list[str]]]:
    from .output import age

    lead = ["NAMESPACE"] if namespaces else []
    out: list[list[str]] = []
    if not wide:
        headers = [*lead, "MODEL", "VERSION", "SERVED NAME", "PHASE", "LOADED", "WHERE", "AGE"]
        for group in groups:
            for i, v in enumerate(group.versions):
                first = i == 0
                out.append([*([group.namespace if first else ""] if namespaces else []), group.model if first else "",
                            f"v{v.number}" if v.number is not None else v.name, v.served_name, v.phase, v.loaded,
                            _where(v), age(v.created)])
        return headers, out
    headers = [*lead, "MODEL", "VERSION", "SERVED NAME", "DEPLOYMENT", "POD", "IP", "LOADED", "SINCE"]
    for group in groups:
        for v in group.versions:
            version = f"v{v.number}" if v.number is not None else v.name
            pods = v.pods or (PodLoad("-", "-", "-", False, "", ""),)
            for p in pods:
                loaded = "yes" if p.loaded else (f"no: {p.message}" if p.message else "no")
                out.append([*([group.namespace] if namespaces else []), group.model, version, v.served_name,
                            p.deployment, p.pod, p.ip or "-", loaded if p.pod != "-" else "-",
                            age(p.loaded_at) if p.loaded_at else "-"])
    return headers, out


def as_data(groups: list[ModelVersions]) -> list[Json]:
    return [{"namespace": g.namespace, "model": g.model, "versions": [
        {"name": v.name, "version": v.number, "servedName": v.served_name, "phase": v.phase, "loaded": v.loaded,
         "baseModel": v.base_model,
         "targets": [{"deployment": d, "loadedReplicas": loaded, "readyReplicas": ready}
                     for d, loaded, ready in v.where],
         "pods": [{"deployment": p.deployment, "name": p.pod, "ip": p.ip, "loaded": p.loaded,
                   "loadedAt": p.loaded_at or None} for p in v.pods]}
        for v in g.versions]} for g in groups]


async def show(session: Session, model: str | None, fmt: str) -> int:
    from .output import console, dump, print_table

    groups = group_versions(await session.list(FINETUNEDMODEL))
    if model:
        groups = [g for g in groups if g.model == model]
    out = console()
    if fmt in ("json", "yaml"):
        dump(out, as_data(groups), fmt)
        return 0
    where = "any namespace" if session.all_namespaces else f"namespace \"{session.namespace}\""
    if model and not groups:
        raise CliError(f'model "{model}" not found in {where} (no FineTunedModel {model}-v<N>)')
    if not groups:
        console(stderr=True).print(f"No models found in {where}.")
        return 0
    headers, table_rows = rows(groups, fmt == "wide", session.all_namespaces)
    print_table(out, headers, table_rows)
    return 0
