"""Reading a training pod's loss curve: ``GET /history?since=<step>`` (the contract is
``kubetune.api.trainer.TrainingHistory``). The operator calls it while a job runs, from the newest step the mirror has
(``Mirror.last_training_step``), and hands the points to ``Mirror.record_training_metrics``."""

from __future__ import annotations

import aiohttp
from pydantic import ValidationError

from ..api.trainer import HistoryPoint, TrainingHistory
from .errors import HistoryUnavailable


async def fetch_history(session: aiohttp.ClientSession, ip: str, port: int, since: int = 0,
                        seconds: float = 5.0) -> list[HistoryPoint]:
    """Every step the trainer logged at or after ``since``, oldest first, within ``seconds``. Raises
    HistoryUnavailable."""
    host = f"[{ip}]" if ":" in ip else ip
    url = f"http://{host}:{port}/history"
    try:
        async with session.get(url, params={"since": str(max(0, since))},
                               timeout=aiohttp.ClientTimeout(total=seconds)) as response:
            if response.status != 200:
                raise HistoryUnavailable(f"{url}: HTTP {response.status}")
            payload = await response.read()
    except (TimeoutError, aiohttp.ClientError) as e:
        raise HistoryUnavailable(f"{url}: {str(e) or type(e).__name__}") from e
    try:
        return TrainingHistory.model_validate_json(payload).points
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise HistoryUnavailable(f"{url}: not a training history: {where}: {first['msg']}") from e
