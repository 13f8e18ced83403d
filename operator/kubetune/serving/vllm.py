"""An async client for vLLM's OpenAI server and its runtime LoRA API (/v1/load_lora_adapter, /v1/models).

Errors by meaning: ``ServerUnavailable`` (connection refused, timeouts, 5xx: worth a retry) and
``AdapterLoadRejected`` (4xx: the server refused this adapter; retrying will not help).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import aiohttp


class VLLMError(Exception):
    """A call to a vLLM server failed."""


class ServerUnavailable(VLLMError):
    """The server could not be reached or failed internally; try again later."""


class AdapterLoadRejected(VLLMError):
    """The server refused the load or unload (bad path, bad adapter, name taken). ``status`` is the HTTP code."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class ServedModel:
    """One entry of /v1/models: the base (parent None) or an adapter (root = its path)."""

    id: str
    root: str | None
    parent: str | None


def _error_message(payload: Any, fallback: str) -> str:
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if payload.get("message"):
            return str(payload["message"])
    return fallback[:500]


class VLLMClient:
    """One client per operator; each call names the server it talks to."""

    def __init__(self, session: aiohttp.ClientSession, timeout: float = 30.0) -> None:
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    @staticmethod
    def _headers(api_key: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"} if api_key else {}

    async def _call(self, method: str, url: str, api_key: str | None, body: Any = None) -> tuple[int, Any, str]:
        try:
            async with self._session.request(method, url, json=body, headers=self._headers(api_key),
                                             timeout=self._timeout) as resp:
                text = await resp.text()
                try:
                    payload = await resp.json(content_type=None) if text.strip().startswith(("{", "[")) else text
                except ValueError:
                    payload = text
                if resp.status >= 500:
                    raise ServerUnavailable(f"{method} {url}: {resp.status} {_error_message(payload, text)}")
                return resp.status, payload, text
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:  # noqa: UP041 - aiohttp raises both
            raise ServerUnavailable(f"{method} {url}: {type(e).__name__}: {e}") from e

    async def models(self, base_url: str, api_key: str | None = None) -> list[ServedModel]:
        status, payload, text = await self._call("GET", f"{base_url}/v1/models", api_key)
        if status != 200 or not isinstance(payload, dict):
            raise AdapterLoadRejected(status, f"GET /v1/models: {_error_message(payload, text)}")
        return [ServedModel(id=m["id"], root=m.get("root"), parent=m.get("parent")) for m in payload.get("data", [])]

    async def load_adapter(self, base_url: str, name: str, path: str, api_key: str | None = None) -> None:
        status, payload, text = await self._call(
            "POST", f"{base_url}/v1/load_lora_adapter", api_key, {"lora_name": name, "lora_path": path})
        if status != 200:
            raise AdapterLoadRejected(status, _error_message(payload, text))

    async def unload_adapter(self, base_url: str, name: str, api_key: str | None = None) -> None:
        status, payload, text = await self._call(
            "POST", f"{base_url}/v1/unload_lora_adapter", api_key, {"lora_name": name})
        if status != 200:
            raise AdapterLoadRejected(status, _error_message(payload, text))
