"""The objects the dashboard's forms produce: a TrainingJob, a FineTunedModel's serving targets, a ModelComparison.
Pure: a form (field name -> text) in, the manifest out, exactly what ``kubectl apply -f`` of the shown YAML would
send. A form field that is wrong raises FormError naming the field; the manifest is then checked against the API
models, so what the API server would refuse is refused here first, by field path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from ...api import API_VERSION, InvalidResource, parse_resource

Json = dict[str, Any]
Form = Mapping[str, str]
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DATASET_SOURCES = ("configMap", "pvc", "postgres")
DATASET_FORMATS = ("openai", "chatml", "alpaca", "sharegpt", "prompt-completion", "text")
MANAGED_BY = {"app.kubernetes.io/managed-by": "kubetune-dashboard"}


@dataclass
class FormError(ValueError):
    """What is wrong with a form: (field, problem) pairs; the field is the form's or the manifest's path."""

    errors: list[tuple[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(f"{where}: {problem}" for where, problem in self.errors)


def to_yaml(manifest: Json) -> str:
    return yaml.safe_dump(manifest, sort_keys=False, default_flow_style=False)


class _Reader:
    """Reads typed values out of a form, gathering every problem before raising."""

    def __init__(self, form: Form) -> None:
        self.form = form
        self.errors: list[tuple[str, str]] = []

    def text(self, name: str, required: bool = False) -> str | None:
        value = (self.form.get(name) or "").strip()
        if not value:
            if required:
                self.errors.append((name, "required"))
            return None
        return value

    def dns_name(self, name: str, required: bool = True) -> str | None:
        value = self.text(name, required)
        if value is not None and (len(value) > 63 or not _NAME.match(value)):
            self.errors.append((name, "lowercase letters, digits and '-', starting and ending with a letter or digit, "
                                      "at most 63 characters"))
        return value

    def number(self, name: str, kind: type[int] | type[float]) -> int | float | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return kind(value)
        except ValueError:
            self.errors.append((name, "an integer" if kind is int else "a number"))
            return None

    def choice(self, name: str, options: tuple[str, ...], default: str | None = None) -> str | None:
        value = self.text(name) or default
        if value is not None and value not in options:
            self.errors.append((name, f"one of {', '.join(options)}"))
        return value

    def done(self) -> None:
        if self.errors:
            raise FormError(self.errors)


def _put(node: Json, path: str, value: Any) -> None:
    if value is None:
        return
    *parents, leaf = path.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value


def _claim_path(value: str) -> Json:
    claim, _, path = value.partition("/")
    return {"claimName": claim, **({"path": path} if path else {})}


def _checked(manifest: Json) -> Json:
    try:
        parse_resource(manifest)
    except InvalidResource as e:
        raise FormError([(path, problem) for path, problem in e.errors]) from e
    return manifest


def training_job(form: Form) -> Json:
    """A TrainingJob from the training form: base model (a PVC path or an hf:// URI), a dataset from a ConfigMap, a
    file on a PVC or a Postgres query, LoRA settings, hyperparameters, output and an optional serving target."""
    r = _Reader(form)
    namespace = r.dns_name("namespace")
    name = r.dns_name("name")
    base = r.text("baseModel", required=True)
    base_pvc = r.text("baseModelPvc")
    dataset_format = r.choice("datasetFormat", DATASET_FORMATS, "openai")
    source_kind = r.choice("datasetSource", DATASET_SOURCES, "configMap")
    source: Json = {}
    if source_kind == "configMap":
        source = {"configMap": {"name": r.dns_name("configMapName"), "key": r.text("configMapKey", required=True)}}
    elif source_kind == "pvc":
        path = r.text("pvcPath", required=True)
        source = {"pvc": _claim_path(f"{r.dns_name('pvcClaim')}/{path or ''}".rstrip("/"))}
    elif source_kind == "postgres":
        mapping = {}
        for column in ("prompt", "completion"):
            value = r.text(f"postgresMap_{column}")
            if value:
                mapping[column] = value
        source = {"postgres": {"secretRef": {"name": r.dns_name("postgresSecret"),
                                             "key": r.text("postgresSecretKey") or "url"},
                               "query": r.text("postgresQuery", required=True),
                               **({"mapping": mapping} if mapping else {})}}
    output_claim = r.dns_name("outputPvc")
    spec: Json = {
        "baseModel": {"name": base,
                      "source": {"pvc": _claim_path(base_pvc)} if base_pvc else {"uri": f"hf://{base}"}},
        "dataset": {"format": dataset_format, "source": source},
        "output": {"modelName": r.dns_name("modelName", required=False) or name,
                   "storage": {"pvc": {"claimName": output_claim}}},
    }
    _put(spec, "dataset.validationSplit", r.number("validationSplit", float))
    _put(spec, "method", r.choice("method", ("lora", "qlora"), None))
    _put(spec, "lora.r", r.number("loraR", int))
    _put(spec, "lora.alpha", r.number("loraAlpha", int))
    _put(spec, "lora.dropout", r.number("loraDropout", float))
    modules = r.text("targetModules")
    if modules:
        listed = [m.strip() for m in modules.split(",") if m.strip()]
        _put(spec, "lora.targetModules", "all-linear" if listed == ["all-linear"] else listed)
    for key, kind in (("epochs", int), ("maxSteps", int), ("batchSize", int), ("learningRate", float),
                      ("maxSeqLength", int)):
        _put(spec, f"hyperparameters.{key}", r.number(key, kind))
    _put(spec, "resources.gpus", r.number("gpus", int))
    target = r.text("serveOn")
    if target:
        deployment, _, port = target.partition(":")
        if not port or port.isdigit():
            spec["serving"] = {"targets": [{"deployment": deployment, "port": int(port or 8000)}]}
        else:
            r.errors.append(("serveOn", "DEPLOYMENT or DEPLOYMENT:PORT"))
    r.done()
    return _checked({"apiVersion": API_VERSION, "kind": "TrainingJob",
                     "metadata": {"name": name, "namespace": namespace, "labels": dict(MANAGED_BY)}, "spec": spec})


@dataclass(frozen=True)
class TargetChange:
    """Deploy a model version on a target, or withdraw it from one: the merge patch and the targets it leaves."""

    patch: Json
    targets: list[Json]
    changed: bool


def serving_targets(model: Json, action: str, deployment: str, port: int = 8000) -> TargetChange:
    """The merge patch of ``spec.serving.targets`` of FineTunedModel ``model`` (its current body) that adds
    (``deploy``) or removes (``withdraw``) ``deployment``. It carries the body's resourceVersion, so it applies only
    to the object as read (409 otherwise), as ``kubectl apply`` does against a changed object."""
    if action not in ("deploy", "withdraw"):
        raise FormError([("action", "deploy or withdraw")])
    if not deployment or len(deployment) > 253:
        raise FormError([("deployment", "required")])
    current = [dict(t) for t in ((model.get("spec") or {}).get("serving") or {}).get("targets") or []]
    others = [t for t in current if t.get("deployment") != deployment]
    if action == "deploy":
        existing = next((t for t in current if t.get("deployment") == deployment), None)
        targets = current if existing else [*current, {"deployment": deployment, "port": port}]
    else:
        targets = others
    changed = targets != current
    patch: Json = {"metadata": {"resourceVersion": model["metadata"]["resourceVersion"]},
                   "spec": {"serving": {"targets": targets}}}
    return TargetChange(patch=patch, targets=targets, changed=changed)


def _endpoint(value: str | None, what: str, r: _Reader) -> Json | None:
    if not value:
        return None
    kind, sep, rest = value.partition("/")
    if not sep:
        kind, rest = "deployment", value
    name, _, port = rest.partition(":")
    if kind not in ("deployment", "service") or not name or (port and not port.isdigit()):
        r.errors.append((what, "[deployment/|service/]NAME[:PORT]"))
        return None
    return {kind: name, "port": int(port or 8000)}


def model_comparison(form: Form) -> Json:
    """A ModelComparison from the comparison form: baseline and candidate (a FineTunedModel, ``ftm/NAME``, or a
    served model name), the endpoint serving both, prompts (a TrainingJob's held-out split or a ConfigMap), an
    optional judge, samples and sampling."""
    r = _Reader(form)
    namespace = r.dns_name("namespace")
    name = r.dns_name("name")

    def side(key: str) -> Json:
        value = r.text(key, required=True) or ""
        if value.startswith("ftm/"):
            return {"fineTunedModelRef": {"name": value[4:]}}
        return {"servedName": value}

    spec: Json = {"baseline": side("baseline"), "candidate": side("candidate")}
    endpoint = _endpoint(r.text("endpoint", required=True), "endpoint", r)
    if endpoint:
        spec["endpoint"] = endpoint
    prompts_kind = r.choice("promptsSource", ("fromTrainingJob", "configMap"), "fromTrainingJob")
    if prompts_kind == "fromTrainingJob":
        spec["prompts"] = {"fromTrainingJob": {"name": r.dns_name("promptsJob")}}
    else:
        spec["prompts"] = {"configMap": {"name": r.dns_name("promptsConfigMap"),
                                         "key": r.text("promptsKey") or "prompts.jsonl"}}
    judge_model = r.text("judgeModel")
    if judge_model:
        judge_endpoint = _endpoint(r.text("judgeEndpoint") or r.text("endpoint"), "judgeEndpoint", r)
        spec["judge"] = {"model": judge_model, "endpoint": judge_endpoint}
    _put(spec, "samples", r.number("samples", int))
    _put(spec, "minSamples", r.number("minSamples", int))
    _put(spec, "sampling.maxTokens", r.number("maxTokens", int))
    _put(spec, "sampling.temperature", r.number("temperature", float))
    _put(spec, "primaryMetric", r.choice("primaryMetric", ("exactMatch", "tokenF1", "rougeL"), None))
    r.done()
    return _checked({"apiVersion": API_VERSION, "kind": "ModelComparison",
                     "metadata": {"name": name, "namespace": namespace, "labels": dict(MANAGED_BY)}, "spec": spec})
