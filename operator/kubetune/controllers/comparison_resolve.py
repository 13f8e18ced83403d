"""What a ModelComparison names, resolved against the cluster before its evaluator starts: the two models (a served
name, or a FineTunedModel's served name once it is Serving there), their endpoints (a Deployment's Ready pods, spread
evenly, or a Service), API keys (Secrets marked for the use), the prompts (inline, a ConfigMap, a PVC file, or a
TrainingJob's held-out split), and the judge.

Anything not there yet is ``Waiting`` (the comparison stays Pending, and is woken when the FineTunedModel or
TrainingJob changes); anything that can never work is ``Unusable`` (it fails).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..api import ModelComparison, SecretKeyRef, TrainingJob, parse_resource
from ..api.modelcomparison import ComparedModel, Endpoint
from ..builders.evaluation import (
    ConfigMapPrompts,
    PromptLocation,
    ResolvedComparison,
    ResolvedModel,
    VolumePrompts,
    held_out_prompts,
    pod_urls,
    service_url,
    spec_prompts,
)
from ..kube import KubeClient
from ..kube.client import CONFIGMAPS, DEPLOYMENTS, PODS, PVCS, SECRETS
from ..kube.resources import resource_for
from ..serving.targets import is_ready, pod_selector
from .model_targets import API_KEY_LABEL
from .resources import FINETUNEDMODELS, TRAININGJOBS

Json = dict[str, Any]
SERVICES = resource_for("Service")


class Waiting(Exception):
    """Something the comparison needs is not there yet; ``depends_on`` names the object whose change wakes it."""

    def __init__(self, reason: str, message: str, depends_on: tuple[str, str] | None = None) -> None:
        super().__init__(message)
        self.reason, self.message, self.depends_on = reason, message, depends_on


class Unusable(Exception):
    """The spec names something that can never be evaluated; the comparison fails."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


@dataclass(frozen=True)
class Resolver:
    client: KubeClient
    comparison: ModelComparison

    @property
    def namespace(self) -> str:
        return self.comparison.metadata.namespace or ""

    async def resolve(self) -> ResolvedComparison:
        spec = self.comparison.spec
        baseline = await self.model(spec.baseline, "spec.baseline")
        candidate = await self.model(spec.candidate, "spec.candidate")
        judge = None
        if spec.judge is not None:
            urls, key = await self.endpoint(spec.judge.endpoint, "spec.judge.endpoint")
            judge = ResolvedModel(spec.judge.model, urls, key)
        return ResolvedComparison(baseline=baseline, candidate=candidate, prompts=await self.prompts(), judge=judge)

    async def model(self, side: ComparedModel, field: str) -> ResolvedModel:
        endpoint = side.endpoint or self.comparison.spec.endpoint
        assert endpoint is not None, "the API requires an endpoint for each side"
        where = f"{field}.endpoint" if side.endpoint else "spec.endpoint"
        served = side.served_name
        if side.fine_tuned_model_ref is not None:
            served = await self.fine_tuned_served_name(side.fine_tuned_model_ref.name, endpoint, field)
        assert served is not None, "the API requires servedName or fineTunedModelRef"
        urls, key = await self.endpoint(endpoint, where)
        return ResolvedModel(served, urls, key)

    async def fine_tuned_served_name(self, name: str, endpoint: Endpoint, field: str) -> str:
        """A FineTunedModel's servedName, once it is Serving (on the endpoint's Deployment, when that is one)."""
        ftm = await self.client.get_or_none(FINETUNEDMODELS, name, self.namespace)
        depends = ("FineTunedModel", name)
        if ftm is None:
            raise Waiting("FineTunedModelNotFound", f"{field}.fineTunedModelRef: FineTunedModel "
                          f"{self.namespace}/{name} does not exist", depends)
        status = ftm.get("status") or {}
        served = str(ftm["spec"]["servedName"])
        if status.get("phase") != "Serving":
            raise Waiting("ModelNotServing", f"FineTunedModel {name} is {status.get('phase') or 'new'}"
                          f"{': ' + status['message'] if status.get('message') else ''}; the comparison starts when "
                          "it is Serving", depends)
        if endpoint.deployment:
            target = next((t for t in status.get("targets") or [] if t.get("deployment") == endpoint.deployment),
                          None)
            if target is None:
                raise Unusable("ModelNotOnEndpoint", f"FineTunedModel {name} is not served by Deployment "
                               f"{endpoint.deployment} (its serving targets: "
                               f"{', '.join(t['deployment'] for t in status.get('targets') or []) or 'none'})")
            if not target.get("readyReplicas") or target.get("loadedReplicas") != target.get("readyReplicas"):
                raise Waiting("ModelNotServing", f"FineTunedModel {name} is loaded on {target.get('loadedReplicas')}"
                              f" of {target.get('readyReplicas')} ready pods of {endpoint.deployment}", depends)
        return served

    async def endpoint(self, endpoint: Endpoint, field: str) -> tuple[tuple[str, ...], SecretKeyRef | None]:
        if endpoint.deployment:
            deployment = await self.client.get_or_none(DEPLOYMENTS, endpoint.deployment, self.namespace)
            if deployment is None:
                raise Waiting("DeploymentNotFound", f"{field}.deployment: Deployment {self.namespace}/"
                              f"{endpoint.deployment} does not exist")
            pods = await self.client.list(PODS, self.namespace, label_selector=pod_selector(deployment))
            ips = [p["status"]["podIP"] for p in pods if is_ready(p)]
            if not ips:
                raise Waiting("NoReadyPods", f"{field}.deployment: Deployment {endpoint.deployment} has no ready pod")
            urls = pod_urls(ips, endpoint.port)
        else:
            assert endpoint.service is not None, "the API requires service or deployment"
            if await self.client.get_or_none(SERVICES, endpoint.service, self.namespace) is None:
                raise Waiting("ServiceNotFound", f"{field}.service: Service {self.namespace}/{endpoint.service} does "
                              "not exist")
            urls = service_url(endpoint.service, self.namespace, endpoint.port)
        if endpoint.api_key_secret_ref is not None:
            await self.check_api_key(endpoint.api_key_secret_ref, f"{field}.apiKeySecretRef")
        return urls, endpoint.api_key_secret_ref

    async def check_api_key(self, ref: SecretKeyRef, field: str) -> None:
        """The Secret exists, has the key and is marked for use as an API key; its value is never read here: the
        evaluator pod gets it through secretKeyRef."""
        secret = await self.client.get_or_none(SECRETS, ref.name, self.namespace)
        if secret is None:
            raise Waiting("SecretNotFound", f"{field}: Secret {self.namespace}/{ref.name} does not exist")
        if (secret["metadata"].get("labels") or {}).get(API_KEY_LABEL) != "true":
            raise Waiting("SecretNotMarked", f'{field}: Secret {self.namespace}/{ref.name} is not labelled '
                          f'{API_KEY_LABEL}: "true"; kubetune sends only Secrets marked for this use to servers')
        if ref.key not in (secret.get("data") or {}):
            raise Waiting("SecretKeyNotFound", f"{field}: Secret {self.namespace}/{ref.name} has no key {ref.key}")

    async def prompts(self) -> PromptLocation:
        source = self.comparison.spec.prompts
        location = spec_prompts(self.comparison)
        if isinstance(location, ConfigMapPrompts):
            configmap = await self.client.get_or_none(CONFIGMAPS, location.name, self.namespace)
            if configmap is None:
                raise Waiting("ConfigMapNotFound", f"spec.prompts.configMap: ConfigMap {self.namespace}/"
                              f"{location.name} does not exist")
            if location.key not in (configmap.get("data") or {}):
                raise Waiting("ConfigMapKeyNotFound", f"spec.prompts.configMap: ConfigMap {location.name} has no key "
                              f"{location.key!r}")
        if isinstance(location, VolumePrompts) and await self.client.get_or_none(
                PVCS, location.claim_name, self.namespace) is None:
            raise Waiting("PersistentVolumeClaimNotFound", f"spec.prompts.pvc: PersistentVolumeClaim "
                          f"{self.namespace}/{location.claim_name} does not exist")
        if location is not None:
            return location
        assert source.from_training_job is not None, "the API requires one prompt source"
        return await self.held_out(source.from_training_job.name)

    async def held_out(self, name: str) -> VolumePrompts:
        """A TrainingJob's held-out split: only once it succeeded, and only when it held anything out."""
        body = await self.client.get_or_none(TRAININGJOBS, name, self.namespace)
        depends = ("TrainingJob", name)
        if body is None:
            raise Waiting("TrainingJobNotFound", f"spec.prompts.fromTrainingJob: TrainingJob {self.namespace}/{name} "
                          "does not exist", depends)
        status = body.get("status") or {}
        if status.get("phase") == "Failed":
            raise Unusable("TrainingJobFailed", f"spec.prompts.fromTrainingJob: TrainingJob {name} failed; it wrote "
                           "no held-out split")
        if status.get("phase") != "Succeeded":
            raise Waiting("TrainingJobNotSucceeded", f"spec.prompts.fromTrainingJob: TrainingJob {name} is "
                          f"{status.get('phase') or 'new'}; its held-out split exists once it has succeeded", depends)
        split = status.get("validationSplit") or {}
        if not split.get("examples"):
            raise Unusable("NoHeldOutPrompts", f"spec.prompts.fromTrainingJob: TrainingJob {name} held out no "
                           "example (dataset.validationSplit 0, or too few rows); give prompts inline or in a "
                           "ConfigMap")
        tj = parse_resource(body)
        assert isinstance(tj, TrainingJob)
        return held_out_prompts(tj, split.get("sha256"))
