"""spec.resources.nodes and processesPerNode: their defaults, the processes they make, and the limits the operator
checks as the API server's CEL rules do (tests/integration/api/test_invalid_manifests.py holds the server's side)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetune.api import InvalidResource, ResourceRequirements, TrainingJob, parse_resource

MINIMAL = yaml.safe_load((Path(__file__).resolve().parents[3] / "examples" / "trainingjob-minimal.yaml").read_text())


def trainingjob(resources: dict[str, Any], name: str | None = None, **spec: Any) -> dict[str, Any]:
    body = copy.deepcopy(MINIMAL)
    body["spec"]["resources"] = resources
    body["spec"].update(spec)
    if name is not None:
        body["metadata"]["name"] = name
    return body


@pytest.mark.parametrize(("resources", "per_node", "world"), [
    ({}, 1, 1),  # gpus 1 by default: one process, the plain trainer
    ({"gpus": 0}, 1, 1),
    ({"gpus": 4}, 4, 4),  # one process per GPU
    ({"gpus": 4, "processesPerNode": 2}, 2, 2),
    ({"gpus": 0, "processesPerNode": 2}, 2, 2),
    ({"gpus": 8, "nodes": 2}, 8, 16),
    ({"gpus": 0, "nodes": 2}, 1, 2),
])
def test_processes_follow_gpus_unless_set(resources: dict[str, Any], per_node: int, world: int) -> None:
    parsed = ResourceRequirements.model_validate(resources)
    assert parsed.nodes == resources.get("nodes", 1)
    assert (parsed.processes(), parsed.world_size()) == (per_node, world)


def test_more_processes_than_gpus_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidResource, match="processesPerNode must be at most gpus"):
        parse_resource(trainingjob({"gpus": 2, "processesPerNode": 4}))


@pytest.mark.parametrize("resources", [{"gpus": 2}, {"gpus": 1, "nodes": 2}, {"gpus": 4, "processesPerNode": 2}])
def test_unsloth_is_refused_for_more_than_one_process(resources: dict[str, Any]) -> None:
    with pytest.raises(InvalidResource, match="backend unsloth trains in one process on one GPU"):
        parse_resource(trainingjob(resources, backend="unsloth"))


@pytest.mark.parametrize("resources", [{"gpus": 1}, {"gpus": 4, "processesPerNode": 1}])
def test_unsloth_on_one_gpu_process_is_accepted(resources: dict[str, Any]) -> None:
    assert isinstance(parse_resource(trainingjob(resources, backend="unsloth")), TrainingJob)


@pytest.mark.parametrize("backend", ["auto", "huggingface"])
def test_qlora_and_the_ddp_backends_take_several_gpus_and_nodes(backend: str) -> None:
    tj = parse_resource(trainingjob({"gpus": 8, "nodes": 4}, method="qlora", backend=backend))
    assert isinstance(tj, TrainingJob) and tj.spec.resources.world_size() == 32


@pytest.mark.parametrize("name", ["1st-run", "support.bot", "a" * 53])
def test_a_multi_node_job_needs_a_name_its_pods_can_be_addressed_by(name: str) -> None:
    with pytest.raises(InvalidResource, match=r"metadata\.name must start with a letter"):
        parse_resource(trainingjob({"gpus": 1, "nodes": 2}, name=name))
    # One node: the name is free as before.
    assert isinstance(parse_resource(trainingjob({"gpus": 1}, name=name)), TrainingJob)


def test_a_fifty_two_character_name_fits_sixty_four_nodes() -> None:
    assert isinstance(parse_resource(trainingjob({"gpus": 1, "nodes": 64}, name="a" * 52)), TrainingJob)
