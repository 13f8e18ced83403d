"""``python -m kubetune.training.torchrun [torchrun options] -m kubetune.training --config ...``: torchrun, exiting
with the trainer's own exit code.

torchrun (``torch.distributed.run``) ends with exit code 1 whenever a worker fails, whatever the worker's code was.
The Job's podFailurePolicy acts on the trainer's codes (3 dataset invalid and 4 config invalid fail the Job at once,
5 a peer's preemption is ignored), so this runs torchrun unchanged, with the same arguments and the ``PET_*``
variables Kubeflow Trainer's torch plugin uses, and exits with the code of the first worker that failed (128 + n
for a worker ended by signal n, as a shell reports it). torchrun's own failure report is one log line, not a
traceback.

Standard library and torch only: this is the pod's first process.
"""

from __future__ import annotations

import logging
import signal
import sys

log = logging.getLogger("kubetune.training.torchrun")


def exit_code(code: int) -> int:
    """A worker's exit code as the pod reports it: negative (killed by signal n) becomes 128 + n."""
    return 128 - code if code < 0 else code


def main(argv: list[str] | None = None) -> int:
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        run(args)
    except ChildFailedError as e:
        rank, failure = e.get_first_failure()
        code = exit_code(failure.exitcode)
        log.error("trainer rank %d (pid %d) exited with code %d first; the run stops with that code", rank,
                  failure.pid, code)
        return code
    except SignalException as e:
        # torchrun has passed the signal on to the trainers and waited for them (they checkpoint on SIGTERM).
        log.warning("stopped by %s", signal.Signals(e.sigval).name)
        return 128 + int(e.sigval)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
