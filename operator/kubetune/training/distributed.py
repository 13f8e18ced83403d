"""This process's place in a distributed run, and the few collectives kubetune adds around the Hugging Face Trainer.

A multi-GPU or multi-node TrainingJob starts the trainer under torchrun (``kubetune.training.torchrun``), which runs
one process per GPU (or per CPU share) and tells each its place through ``RANK``, ``LOCAL_RANK`` and
``WORLD_SIZE``. The data parallelism itself is the Trainer's (DDP through accelerate: every rank trains on its own
shard of each epoch and the gradients are averaged). What kubetune adds:

- rank 0 alone writes files (the held-out split, checkpoint markers, the adapter), serves progress and writes the
  termination message; the other ranks log warnings only;
- every rank resumes from the checkpoint rank 0 chose, so no rank starts from another step;
- a SIGTERM on any rank (a preempted or suspended pod) stops every rank after the same step, once the shared
  checkpoint is saved: a rank that stops alone would leave the others waiting in their next collective.

Without torchrun (``WORLD_SIZE`` unset or 1) nothing here runs a collective: the single-process trainer is unchanged.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

log = logging.getLogger(__name__)

# How long a collective (kubetune's, then the Trainer's) waits for the slowest rank, the Trainer's own default
# (ddp_timeout). Ranks load the model and the dataset at their own pace before the first one.
COLLECTIVE_TIMEOUT = timedelta(seconds=1800)


@dataclass(frozen=True)
class Gang:
    """Where this process stands among the run's processes (torchrun's variables)."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    local_world_size: int = 1

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files and reports for the run."""
        return self.rank == 0

    @property
    def nodes(self) -> int:
        return max(1, self.world_size // max(1, self.local_world_size))


SOLO = Gang()


def gang_from_env(environ: Mapping[str, str] | None = None) -> Gang:
    """The gang torchrun describes in the environment; ``SOLO`` when the trainer runs on its own."""
    env = os.environ if environ is None else environ
    try:
        world = int(env.get("WORLD_SIZE", "1"))
        if world <= 1:
            return SOLO
        return Gang(rank=int(env["RANK"]), local_rank=int(env.get("LOCAL_RANK", "0")), world_size=world,
                    local_world_size=int(env.get("LOCAL_WORLD_SIZE", "1")))
    except (KeyError, ValueError) as e:
        raise RuntimeError(f"torchrun's RANK, LOCAL_RANK and WORLD_SIZE are incomplete or not numbers: {e}") from e


class Collectives:
    """kubetune's own collectives over the run's process group. Every rank must call each, in the same order."""

    def __init__(self, gang: Gang, device: Any) -> None:
        self.gang = gang
        self.device = device

    def barrier(self) -> None:
        import torch.distributed as dist

        dist.barrier()

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value``, on every rank (any picklable object)."""
        import torch.distributed as dist

        box = [value if self.gang.is_main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def any(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is true on at least one."""
        import torch
        import torch.distributed as dist

        tensor = torch.tensor([1 if flag else 0], dtype=torch.int32, device=self.device)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        return bool(tensor.item())

    @contextlib.contextmanager
    def local_main_first(self) -> Iterator[None]:
        """Run the block on each pod's local rank 0 first, then on the pod's other ranks (a download into the pod's
        own /tmp is made once per pod)."""
        if self.gang.local_rank != 0:
            self.barrier()
        yield
        if self.gang.local_rank == 0:
            self.barrier()


def join(gang: Gang, cuda: bool) -> Collectives:
    """Join the run's process group (gloo on CPU, NCCL on GPU) through accelerate, as the Trainer would, only
    earlier: kubetune's own collectives run before the Trainer exists. The Trainer finds the group and reuses it."""
    from accelerate import PartialState

    if cuda:
        import torch

        torch.cuda.set_device(gang.local_rank)
    state = PartialState(cpu=not cuda, timeout=COLLECTIVE_TIMEOUT)
    log.info("joined a run of %d processes on %d node(s) as rank %d (%s)", gang.world_size, gang.nodes, gang.rank,
             state.backend)
    return Collectives(gang, state.device)


def quiet_replica_logging(gang: Gang) -> None:
    """Ranks other than 0 log warnings and errors only: the pod logs tell one story, rank 0's."""
    if not gang.is_main:
        logging.getLogger().setLevel(logging.WARNING)
        logging.getLogger("kubetune").setLevel(logging.WARNING)
