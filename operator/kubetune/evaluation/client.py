"""One model's requests: a streamed chat completion timed as ``vllm bench serve`` times it, retried with backoff.

The OpenAI SDK's ``AsyncOpenAI`` sends the request and raises typed errors; the event stream is read line by line (the
SDK's typed chunks cost too much CPU per token). Its own retries are off, so every retry is ours, counted and delayed
by our backoff. Timings (vllm/benchmarks/lib/endpoint_request_func.py):
TTFT is the first chunk that carries a choice minus the send time; ITL the gaps between later such chunks; latency
the last such chunk minus the send time; the output length is the server's ``usage.completion_tokens``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import openai

from kubetune.api.evaluator import FailurePolicy, ModelTarget, SamplingConfig

log = logging.getLogger(__name__)

# 4xx answers that a retry cannot change (a wrong model name, a bad key, a prompt over the context length).
PERMANENT_STATUS = frozenset({400, 401, 403, 404, 405, 413, 422})


@dataclass
class Answer:
    """What one model said to one prompt, and how fast. On failure ``error`` is set and the timings are None."""

    text: str | None = None
    error: str | None = None
    url: str | None = None
    sent_at: float | None = None
    """Unix time the successful attempt was sent; with ``ended_at``, the span a resumed run's throughput uses."""
    ended_at: float | None = None
    ttft_ms: float | None = None
    latency_ms: float | None = None
    itl_ms: list[float] = field(default_factory=list)
    output_tokens: int | None = None
    attempts: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def tpot_ms(self) -> float | None:
        """(latency - TTFT) / (tokens - 1), over requests of more than one token, as vllm bench serve."""
        if self.ttft_ms is None or self.latency_ms is None or not self.output_tokens or self.output_tokens < 2:
            return None
        return (self.latency_ms - self.ttft_ms) / (self.output_tokens - 1)


class RequestFailed(Exception):
    def __init__(self, message: str, retriable: bool) -> None:
        super().__init__(message)
        self.retriable = retriable


def describe(error: BaseException) -> tuple[str, bool]:
    """``(message, retriable)`` of an error from the SDK or the stream."""
    if isinstance(error, openai.APIStatusError):
        body = error.body if isinstance(error.body, dict) else {}
        detail = body.get("message") or (body.get("error") or {}).get("message") if body else None
        text = f"HTTP {error.status_code}: {detail or error.message}"
        return text, error.status_code not in PERMANENT_STATUS
    if isinstance(error, openai.APIConnectionError):  # APITimeoutError too; the cause says what happened
        cause = error.__cause__
        return (f"{error.message.rstrip('.')}: {cause}" if cause else error.message), True
    if isinstance(error, RequestFailed):
        return str(error), error.retriable
    return f"{type(error).__name__}: {error}", True


class ModelClient:
    """Streams chat completions to one model over its URLs (prompt i goes to urls[i % len], and a retry moves on to
    the next URL, so a Deployment's Ready pods share the load and a gone pod costs one retry)."""

    def __init__(self, target: ModelTarget, api_key: str | None, sampling: SamplingConfig, failures: FailurePolicy,
                 concurrency: int, on_attempt_failed: Callable[[str], None] | None = None) -> None:
        self.target = target
        self.sampling = sampling
        self.failures = failures
        self.on_attempt_failed = on_attempt_failed or (lambda message: None)
        self._clients = [
            openai.AsyncOpenAI(
                base_url=url.rstrip("/") + "/v1",
                api_key=api_key or "none",  # the SDK insists on one; a server without --api-key ignores it
                max_retries=0,
                timeout=failures.request_timeout_seconds,
            )
            for url in target.urls
        ]

    async def close(self) -> None:
        await asyncio.gather(*(client.close() for client in self._clients), return_exceptions=True)

    def _body(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        s = self.sampling
        body: dict[str, Any] = {
            "model": self.target.model, "messages": messages, "max_tokens": s.max_tokens,
            "temperature": s.temperature, "top_p": s.top_p, "stream": True,
            "stream_options": {"include_usage": True},
        }
        if s.seed is not None:
            body["seed"] = s.seed
        if s.ignore_eos:
            body["extra_body"] = {"ignore_eos": True}
        return body

    async def _stream(self, client: openai.AsyncOpenAI, messages: list[dict[str, str]], answer: Answer) -> None:
        sent_at = time.time()
        start = time.perf_counter()
        last = start
        first = True
        text: list[str] = []
        ttft = None
        itl: list[float] = []
        tokens = None
        # The raw event stream, each chunk read with json.loads: the SDK's typed chunk objects cost about 30 times
        # more CPU per chunk, taken from the server when both share a node. The SDK still sends the request and
        # turns an error status into APIStatusError before the first line is read.
        async with client.chat.completions.with_streaming_response.create(**self._body(messages)) as response:
            async for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                chunk = json.loads(data)
                if chunk.get("error"):
                    error = chunk["error"]
                    raise RequestFailed(f"error in the stream: {error.get('message', error)}"
                                        if isinstance(error, dict) else f"error in the stream: {error}",
                                        retriable=True)
                choices = chunk.get("choices")
                if choices:
                    now = time.perf_counter()
                    if first:
                        ttft, first = now - start, False
                    else:
                        itl.append((now - last) * 1000)
                    last = now
                    text.append((choices[0].get("delta") or {}).get("content") or "")
                elif chunk.get("usage"):
                    tokens = chunk["usage"].get("completion_tokens")
        if ttft is None:
            raise RequestFailed("the stream ended without a token", retriable=True)
        answer.text = "".join(text)
        answer.sent_at, answer.ended_at = sent_at, sent_at + (last - start)
        answer.ttft_ms, answer.latency_ms = ttft * 1000, (last - start) * 1000
        answer.itl_ms = itl
        # vllm bench serve falls back to the chunk count when the server reports no usage.
        answer.output_tokens = tokens if tokens is not None else len(itl) + 1

    async def answer(self, index: int, messages: list[dict[str, str]]) -> Answer:
        """Ask for one answer, with retries; never raises for a request error (the ``Answer`` carries it)."""
        answer = Answer()
        delay = self.failures.backoff_seconds
        for attempt in range(self.failures.retries + 1):
            slot = (index + attempt) % len(self._clients)
            answer.url, answer.attempts = self.target.urls[slot], attempt + 1
            try:
                await self._stream(self._clients[slot], messages, answer)
                answer.error = None
                return answer
            except asyncio.CancelledError:
                raise
            except Exception as e:
                message, retriable = describe(e)
                answer.error = message
                self.on_attempt_failed(message)
                log.debug("%s: attempt %d at %s failed: %s", self.target.model, attempt + 1, answer.url, message)
                if not retriable:
                    break
                if attempt < self.failures.retries:
                    await asyncio.sleep(delay)
                    delay *= 2
        return answer
