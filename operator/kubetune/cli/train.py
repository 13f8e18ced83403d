"""``kubetune train -f job.yaml [--watch]``, or ``kubetune train --name N --base-model M --dataset FILE ...``:
submit a TrainingJob, and with --watch follow it to the end (exit 0 when it succeeded, 1 when it failed).
"""

from __future__ import annotations

import argparse
from typing import Any

from .errors import CliError, UsageError
from .flags import add_cluster_flags
from .kinds import TRAININGJOB
from .session import Session, run
from .watch import add_watch_flags

Json = dict[str, Any]
FORMATS = ("openai", "chatml", "alpaca", "sharegpt", "prompt-completion", "text")


def add_commands(subparsers: Any) -> None:
    train = subparsers.add_parser(
        "train", help="start a TrainingJob (from a manifest or from flags), optionally watching it",
        description="Submit a TrainingJob: from a manifest (-f), or built from flags with the --dataset file "
        "uploaded as a ConfigMap (at most 1 MiB; larger datasets belong on a PVC, at an http(s) URI or in Postgres). "
        "With --watch, follow it to the end: exit 0 when it succeeded, 1 when it failed.")
    train.add_argument("-f", "--filename", metavar="FILE", help="a TrainingJob manifest (YAML or JSON; - for stdin)")
    train.add_argument("--name", help="the TrainingJob's name (overrides the manifest's)")
    train.add_argument("--watch", "-w", action="store_true", help="follow the job until it ends (see kubetune watch)")
    train.add_argument("--dry-run", action="store_true", help="print what would be created, as YAML, and stop")
    add_watch_flags(train)

    built = train.add_argument_group("building the job from flags (instead of -f)")
    built.add_argument("--base-model", metavar="NAME", help="the base model's name, as vLLM serves it")
    built.add_argument("--base-model-pvc", metavar="CLAIM[/PATH]", help="its weights on a claim (default: hf://NAME)")
    built.add_argument("--base-model-uri", metavar="URI", help="its weights at hf://ORG/REPO")
    built.add_argument("--dataset", metavar="FILE", help="a JSON Lines dataset (uploaded as a ConfigMap, <= 1 MiB)")
    built.add_argument("--dataset-format", choices=FORMATS, default="openai", help="row format (default openai)")
    built.add_argument("--validation-split", type=float, metavar="F", help="share held out (default 0.05)")
    built.add_argument("--model-name", help="the output model name; versions are <model-name>-v<N> (default: --name)")
    built.add_argument("--output-pvc", default="adapters", metavar="CLAIM[/PATH]",
                       help="where the adapter is written (default adapters)")
    built.add_argument("--method", choices=("lora", "qlora"))
    built.add_argument("--backend", choices=("auto", "unsloth", "huggingface"))
    built.add_argument("--epochs", type=int)
    built.add_argument("--max-steps", type=int)
    built.add_argument("--batch-size", type=int)
    built.add_argument("--learning-rate", type=float)
    built.add_argument("--max-seq-length", type=int)
    built.add_argument("--lr-scheduler")
    built.add_argument("--warmup-ratio", type=float)
    built.add_argument("--lora-r", type=int)
    built.add_argument("--lora-alpha", type=int)
    built.add_argument("--target-modules", metavar="all-linear|M1,M2", help="modules to adapt")
    built.add_argument("--gpus", type=int)
    built.add_argument("--memory", metavar="QUANTITY", help="memory limit of the training pod, e.g. 48Gi")
    built.add_argument("--checkpoint-every", type=int, metavar="STEPS")
    built.add_argument("--backoff-limit", type=int)
    built.add_argument("--serve", action="append", metavar="DEPLOYMENT[:PORT]",
                       help="hot-load the adapter into this vLLM Deployment on success (repeatable)")
    add_cluster_flags(train)
    train.set_defaults(handler=train_command)


def prepare(args: argparse.Namespace) -> tuple[Json, Json | None]:
    from .trainingjob_manifest import check, from_flags, load_manifest

    if args.filename:
        if args.dataset or args.base_model:
            raise UsageError("-f and --base-model/--dataset do not mix: put the settings in the manifest")
        manifest = load_manifest(args.filename)
        if args.name:
            manifest.setdefault("metadata", {})["name"] = args.name
        if not (manifest.get("metadata") or {}).get("name"):
            raise UsageError(f"{args.filename}: the TrainingJob has no metadata.name; pass --name")
        configmap = None
        source = args.filename
    else:
        manifest, configmap = from_flags(args)
        source = "flags"
    check(manifest, source)
    return manifest, configmap


def train_command(args: argparse.Namespace) -> int:
    manifest, configmap = prepare(args)
    if args.dry_run:
        from .output import console, dump

        out = console()
        for doc in (configmap, manifest):
            if doc is not None:
                dump(out, doc, "yaml")
                out.print("---")
        return 0
    from .watch import stop_quietly

    name = manifest["metadata"]["name"]
    return stop_quietly(name, lambda: run(args, lambda session: submit(session, manifest, configmap, args.watch,
                                                                        args.interval)))


async def submit(session: Session, manifest: Json, configmap: Json | None, watch: bool, interval: float) -> int:
    from kubetune.kube import Conflict, Invalid
    from kubetune.kube.client import CONFIGMAPS

    from .output import console

    meta = manifest.setdefault("metadata", {})
    if meta.get("namespace") and meta["namespace"] != session.namespace and session.target.namespace_from_flag:
        # As kubectl: the manifest's namespace is used, unless -n names another one.
        raise UsageError(f"the manifest's namespace {meta['namespace']} does not match -n {session.namespace}")
    namespace = meta.get("namespace") or session.namespace
    meta["namespace"] = namespace
    name = meta["name"]
    out = console()
    if await session.client.get_or_none(TRAININGJOB.resource, name, namespace) is not None:
        raise CliError(f'trainingjob "{name}" already exists in namespace "{namespace}": its spec cannot change once '
                       f"it has started; delete it, or pass --name to train under another name")
    if configmap is not None:
        configmap["metadata"]["namespace"] = namespace
        try:
            await session.client.create(CONFIGMAPS, configmap, namespace)
        except Conflict:
            await session.client.patch(CONFIGMAPS, configmap["metadata"]["name"], {"data": configmap["data"]},
                                       namespace)
        out.print(f"configmap/{configmap['metadata']['name']} created", markup=False)
    try:
        created = await session.client.create(TRAININGJOB.resource, manifest, namespace)
    except Conflict as e:
        raise CliError(f'trainingjob "{name}" already exists in namespace "{namespace}"') from e
    except Invalid as e:
        raise UsageError(f"the API server refused the TrainingJob: {e.message}") from e
    out.print(f"trainingjob.kubetune.dev/{name} created", markup=False)
    if configmap is not None:
        # Owned by the job, so deleting the job deletes its dataset too.
        owner = {"apiVersion": created["apiVersion"], "kind": "TrainingJob", "name": name,
                 "uid": created["metadata"]["uid"]}
        await session.client.patch(CONFIGMAPS, configmap["metadata"]["name"],
                                   {"metadata": {"ownerReferences": [owner]}}, namespace)
    if not watch:
        return 0
    from .watch import watch_trainingjob

    return await watch_trainingjob(session, name, interval, namespace)
