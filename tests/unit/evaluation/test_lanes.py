"""Both models take the prompts in the same order, each at its own pace, never more than `ahead` past the other."""

from __future__ import annotations

import asyncio

from kubetune.evaluation.prompts import Prompt
from kubetune.evaluation.runner import _Lanes


def _todo(n: int) -> list[tuple[int, Prompt]]:
    return [(i, Prompt(id=i, messages=({"role": "user", "content": str(i)},), reference=None, sha256=""))
            for i in range(n)]


def test_each_model_takes_every_prompt_once_in_order() -> None:
    async def run() -> dict[str, list[int]]:
        lanes = _Lanes(_todo(7), ahead=2)
        taken: dict[str, list[int]] = {"baseline": [], "candidate": []}

        async def worker(role: str) -> None:
            while (item := await lanes.take(role)) is not None:
                taken[role].append(item[0])
                await asyncio.sleep(0)

        await asyncio.gather(*(worker(role) for role in taken for _ in range(2)))
        return taken

    assert asyncio.run(run()) == {"baseline": list(range(7)), "candidate": list(range(7))}


def test_a_fast_model_waits_only_when_it_is_ahead_by_the_limit() -> None:
    async def run() -> tuple[int, int, int]:
        lanes = _Lanes(_todo(10), ahead=3)
        for _ in range(3):
            assert await lanes.take("baseline") is not None  # the candidate has taken nothing yet
        blocked = asyncio.create_task(lanes.take("baseline"))
        await asyncio.sleep(0.01)
        was_blocked = not blocked.done()
        await lanes.take("candidate")  # the candidate moves: the baseline may take one more
        index, _ = await asyncio.wait_for(blocked, 1)
        return int(was_blocked), index, lanes.taken["baseline"] - lanes.taken["candidate"]

    assert asyncio.run(run()) == (1, 3, 3)


def test_a_model_done_with_every_prompt_does_not_hold_the_other_back() -> None:
    async def run() -> list[object]:
        lanes = _Lanes(_todo(3), ahead=1)
        seen: list[object] = []
        for _ in range(3):
            seen.append((await lanes.take("baseline") or (None,))[0])
            seen.append((await lanes.take("candidate") or (None,))[0])
        seen.append(await asyncio.wait_for(lanes.take("baseline"), 1))  # done: None, without waiting
        seen.append(await asyncio.wait_for(lanes.take("candidate"), 1))
        return seen

    assert asyncio.run(run()) == [0, 0, 1, 1, 2, 2, None, None]
