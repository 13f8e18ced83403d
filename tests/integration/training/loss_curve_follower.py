"""What the operator does for a running TrainingJob's loss curve, as a process a test can SIGKILL: find where the
mirror stopped (``last_training_step``), then fetch the trainer's /history from there every 0.2 s and record it,
until the trainer has gone away.

    python loss_curve_follower.py DATABASE_URL PORT JOB_UID
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp

from kubetune.store import HistoryUnavailable, Mirror, MirrorSettings, fetch_history


async def follow(url: str, port: int, job_uid: str) -> None:
    mirror = Mirror(url, None, MirrorSettings(relist_interval=0, migrate=False))
    await mirror.start()
    since = await mirror.last_training_step(job_uid) or 0
    print(f"resuming from step {since}", flush=True)
    failures, reached = 0, False
    async with aiohttp.ClientSession() as session:
        while failures < 10:
            try:
                points = await fetch_history(session, "127.0.0.1", port, since)
            except HistoryUnavailable:
                failures += 1 if reached else 0  # before the trainer serves, wait; after, it has ended
                await asyncio.sleep(0.2)
                continue
            reached, failures = True, 0
            if points:
                mirror.record_training_metrics(job_uid, points)
                since = points[-1].step
                print(f"recorded up to step {since}", flush=True)
            await asyncio.sleep(0.2)
    await mirror.stop()


if __name__ == "__main__":
    asyncio.run(follow(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
