"""``kubetune compare BASELINE CANDIDATE --prompts FILE [--judge MODEL] [--wait]``: create a ModelComparison, and with
--wait print its result table and verdict when the evaluator is done (exit 0 when it succeeded, 1 when it failed).

BASELINE and CANDIDATE are FineTunedModel names (``ftm/NAME`` to insist) or any model name the endpoint serves.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from .errors import EXIT_FAILED, EXIT_OK, CliError, UsageError
from .flags import add_cluster_flags
from .kinds import API_VERSION, FINETUNEDMODEL, MODELCOMPARISON
from .session import Session, run
from .watch import add_watch_flags

Json = dict[str, Any]
INLINE_PROMPTS_MAX = 200  # kubetune.api.modelcomparison.INLINE_PROMPTS_MAX
PROMPT_MAX_CHARS = 8192
PROMPTS_KEY = "prompts.jsonl"
FINISHED = ("Succeeded", "Failed")


def add_commands(subparsers: Any) -> None:
    compare = subparsers.add_parser(
        "compare", help="A/B test two models on the same prompts (a ModelComparison)",
        description="Create a ModelComparison of CANDIDATE against BASELINE. Each is a FineTunedModel (ftm/NAME, or "
        "a NAME that is one) or a model name the endpoint serves. The endpoint defaults to the FineTunedModel's "
        "first serving target. With --wait, print the result table and verdict when it is done.")
    compare.add_argument("baseline", metavar="BASELINE")
    compare.add_argument("candidate", metavar="CANDIDATE")
    prompts = compare.add_mutually_exclusive_group(required=True)
    prompts.add_argument("--prompts", metavar="FILE", help="JSON Lines of {prompt, reference} (or {messages})")
    prompts.add_argument("--prompts-from-job", metavar="TRAININGJOB",
                         help="the validation split of this TrainingJob")
    compare.add_argument("--endpoint", metavar="[service/|deployment/]NAME[:PORT]",
                         help="where both models are served (default: the FineTunedModel's first target)")
    compare.add_argument("--judge", metavar="MODEL", help="an LLM judge model, asked with position swap")
    compare.add_argument("--judge-endpoint", metavar="[service/|deployment/]NAME[:PORT]",
                         help="where the judge is served (default: --endpoint)")
    compare.add_argument("--samples", type=int, help="prompts drawn (default 200)")
    compare.add_argument("--max-tokens", type=int, help="most tokens per answer (default 256)")
    compare.add_argument("--temperature", type=float)
    compare.add_argument("--seed", type=int)
    compare.add_argument("--concurrency", type=int)
    compare.add_argument("--name", help="the ModelComparison's name (default: CANDIDATE-vs-BASELINE-<5 random>)")
    compare.add_argument("--wait", "-w", action="store_true", help="wait for the result and print it")
    compare.add_argument("--dry-run", action="store_true", help="print what would be created, as YAML, and stop")
    add_watch_flags(compare)
    add_cluster_flags(compare)
    compare.set_defaults(handler=compare_command)


# -- building the ModelComparison ------------------------------------------------------------------------------------
def parse_endpoint(value: str) -> Json:
    kind, sep, rest = value.partition("/")
    if not sep:
        kind, rest = "deployment", value
    if kind not in ("service", "deployment", "svc", "deploy"):
        raise UsageError(f"endpoint {value!r}: expected service/NAME or deployment/NAME, with an optional :PORT")
    name, _, port = rest.partition(":")
    if not name or (port and not port.isdigit()):
        raise UsageError(f"endpoint {value!r}: expected [service/|deployment/]NAME[:PORT]")
    key = "service" if kind in ("service", "svc") else "deployment"
    return {key: name, "port": int(port or 8000)}


def read_prompts(path: Path) -> list[Json]:
    """The rows of a prompts file, each checked to be a JSON object with a prompt or messages."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise UsageError(f"--prompts {path}: {e.strerror or e}") from e
    except UnicodeDecodeError as e:
        raise UsageError(f"--prompts {path}: not UTF-8 text") from e
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as e:
            raise UsageError(f"--prompts {path}: line {number}: not valid JSON ({e})") from e
        if not isinstance(row, dict) or not (isinstance(row.get("prompt"), str) or isinstance(row.get("messages"),
                                                                                               list)):
            raise UsageError(f"--prompts {path}: line {number}: expected an object with prompt (a string) or "
                             "messages (a list)")
        rows.append(row)
    if not rows:
        raise UsageError(f"--prompts {path}: no prompts")
    return rows


def prompts_source(name: str, path: Path) -> tuple[Json, Json | None]:
    """Inline prompts when they fit in the manifest, else a ConfigMap (returned for creation)."""
    from .trainingjob_manifest import CONFIGMAP_DATA_MAX_BYTES

    rows = read_prompts(path)
    inline = len(rows) <= INLINE_PROMPTS_MAX and all(
        set(r) <= {"prompt", "reference"} and isinstance(r.get("prompt"), str)
        and 0 < len(r["prompt"]) <= PROMPT_MAX_CHARS and len(str(r.get("reference") or "")) <= PROMPT_MAX_CHARS
        for r in rows)
    if inline:
        return {"inline": [{k: r[k] for k in ("prompt", "reference") if r.get(k) is not None} for r in rows]}, None
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if len(text.encode()) > CONFIGMAP_DATA_MAX_BYTES:
        raise UsageError(f"--prompts {path} is over 1 MiB, more than a ConfigMap holds: put it on a PVC "
                         "(spec.prompts.pvc) and create the ModelComparison with kubectl apply")
    configmap: Json = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{name}-prompts"},
                       "data": {PROMPTS_KEY: text}}
    return {"configMap": {"name": f"{name}-prompts", "key": PROMPTS_KEY}}, configmap


def default_name(baseline: str, candidate: str) -> str:
    """``<candidate>-vs-<baseline>-<5 random>``: comparisons are immutable, so each run gets a name of its own (chosen
    here rather than by generateName, because a prompts ConfigMap is named after it before it exists)."""
    import secrets
    import string

    def clean(text: str) -> str:
        return re.sub(r"[^a-z0-9-]+", "-", text.lower().removeprefix("ftm/")).strip("-")[:24].strip("-") or "model"

    suffix = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(5))
    return f"{clean(candidate)}-vs-{clean(baseline)}-{suffix}"


async def resolve_side(session: Session, value: str) -> tuple[Json, Json | None]:
    """The spec of one side, and its FineTunedModel when it is one."""
    explicit = value.startswith("ftm/")
    name = value.removeprefix("ftm/")
    ftm = await session.client.get_or_none(FINETUNEDMODEL.resource, name, session.namespace)
    if ftm is None and explicit:
        raise CliError(f'finetunedmodel "{name}" not found in namespace "{session.namespace}"')
    if ftm is not None:
        return {"fineTunedModelRef": {"name": name}}, ftm
    return {"servedName": value}, None


def endpoint_of(ftm: Json | None) -> Json | None:
    targets = (((ftm or {}).get("spec") or {}).get("serving") or {}).get("targets") or []
    if not targets:
        return None
    first = targets[0]
    return {"deployment": first["deployment"], "port": int(first.get("port") or 8000)}


def build(args: argparse.Namespace, name: str, baseline: Json, candidate: Json, endpoint: Json, prompts: Json) -> Json:
    spec: Json = {"baseline": baseline, "candidate": candidate, "endpoint": endpoint, "prompts": prompts}
    sampling = {k: v for k, v in (("maxTokens", args.max_tokens), ("temperature", args.temperature),
                                  ("seed", args.seed)) if v is not None}
    if sampling:
        spec["sampling"] = sampling
    if args.judge:
        spec["judge"] = {"model": args.judge,
                         "endpoint": parse_endpoint(args.judge_endpoint) if args.judge_endpoint else endpoint}
    for key, value in (("samples", args.samples), ("concurrency", args.concurrency)):
        if value is not None:
            spec[key] = value
    return {"apiVersion": API_VERSION, "kind": "ModelComparison", "metadata": {"name": name}, "spec": spec}


def check(manifest: Json) -> None:
    from kubetune.api import InvalidResource, parse_resource

    try:
        parse_resource(manifest)
    except InvalidResource as e:
        raise UsageError("invalid ModelComparison: " + "; ".join(f"{p}: {m}" for p, m in e.errors[:5])) from e


# -- the command -----------------------------------------------------------------------------------------------------
def compare_command(args: argparse.Namespace) -> int:
    return run(args, lambda session: create(session, args))


async def create(session: Session, args: argparse.Namespace) -> int:
    from kubetune.kube import Conflict, Invalid
    from kubetune.kube.client import CONFIGMAPS

    from .output import console, dump

    baseline, baseline_ftm = await resolve_side(session, args.baseline)
    candidate, candidate_ftm = await resolve_side(session, args.candidate)
    if args.endpoint:
        endpoint = parse_endpoint(args.endpoint)
    else:
        found = endpoint_of(candidate_ftm) or endpoint_of(baseline_ftm)
        if found is None:
            raise UsageError("pass --endpoint: neither model is a FineTunedModel with a serving target")
        endpoint = found
    name = args.name or default_name(args.baseline, args.candidate)
    if args.prompts:
        prompts, configmap = prompts_source(name, Path(args.prompts))
    else:
        prompts, configmap = {"fromTrainingJob": {"name": args.prompts_from_job}}, None
    manifest = build(args, name, baseline, candidate, endpoint, prompts)
    check(manifest)
    out = console()
    if args.dry_run:
        for doc in (configmap, manifest):
            if doc is not None:
                dump(out, doc, "yaml")
                out.print("---")
        return EXIT_OK
    if configmap is not None:
        try:
            await session.client.create(CONFIGMAPS, configmap, session.namespace)
        except Conflict:
            await session.client.patch(CONFIGMAPS, configmap["metadata"]["name"], {"data": configmap["data"]},
                                       session.namespace)
    try:
        created = await session.client.create(MODELCOMPARISON.resource, manifest, session.namespace)
    except Conflict as e:
        raise CliError(f'modelcomparison "{name}" already exists in namespace "{session.namespace}": comparisons '
                       "are immutable; pass another --name") from e
    except Invalid as e:
        raise UsageError(f"the API server refused the ModelComparison: {e.message}") from e
    if configmap is not None:
        owner = {"apiVersion": API_VERSION, "kind": "ModelComparison", "name": name,
                 "uid": created["metadata"]["uid"]}
        await session.client.patch(CONFIGMAPS, configmap["metadata"]["name"],
                                   {"metadata": {"ownerReferences": [owner]}}, session.namespace)
    out.print(f"modelcomparison.kubetune.dev/{name} created", markup=False)
    if not args.wait:
        out.print(f"  kubetune watch mc {name}  (waits and prints the results)", markup=False)
        return EXIT_OK
    return await wait_and_show(session, name, args.interval)


async def wait_and_show(session: Session, name: str, interval: float = 1.0) -> int:
    """Wait for the ModelComparison to finish, then print its result table and verdict."""
    import asyncio

    from .comparison_view import render
    from .output import console

    out = console()
    mc = await session.get(MODELCOMPARISON, name)
    last = None
    status_cm = out.status(f"ModelComparison {name}: waiting") if out.is_terminal else None
    if status_cm is not None:
        status_cm.start()
    try:
        while (mc.get("status") or {}).get("phase") not in FINISHED:
            status = mc.get("status") or {}
            line = f"{status.get('phase') or 'Pending'}" + (f"  {status['message']}" if status.get("message") else "")
            if status_cm is not None:
                status_cm.update(f"ModelComparison {name}: {line}")
            elif line != last:
                out.print(line, markup=False)
            last = line
            await asyncio.sleep(interval)
            try:
                mc = await session.get(MODELCOMPARISON, name)
            except CliError as e:
                raise CliError(f"{e}: it was deleted while being watched") from e
    finally:
        if status_cm is not None:
            status_cm.stop()
    status = mc.get("status") or {}
    if status.get("phase") == "Failed":
        out.print(f"[red]✗[/] ModelComparison [bold]{name}[/] failed: [bold red]{status.get('reason') or 'Failed'}[/]")
        if status.get("message"):
            out.print(f"  {status['message']}", markup=False)
        return EXIT_FAILED
    from rich.table import Table

    from .output import print_grid

    for item in render(mc):
        if isinstance(item, Table):
            print_grid(out, item)
        else:
            out.print(item)
    return EXIT_OK
