"""Any OpenAI-compatible streaming chat endpoint (vLLM, llama.cpp server, …), standard library only.

``POST {base_url}/chat/completions`` with ``"stream": true``; the reply is server-sent events,
``data: {json chunk}`` lines ending with ``data: [DONE]``. Each chunk's ``delta.content`` is a
piece. A chat endpoint cannot be prefilled, so the force is an instruction in the user message;
servers that accept a GBNF grammar (llama.cpp: field ``grammar``) get one with ``grammar_field``.
Cancel shuts the socket down, which unblocks the worker's read at once.
"""
from __future__ import annotations

import http.client
import json
import socket
from typing import Any
from urllib.parse import urlsplit

from seal_nodes.core.thinking.lm.base import Generation, ModelError, Prompt
from seal_nodes.core.thinking.lm.grammar import build_grammar, chat_messages
from seal_nodes.core.thinking.lm.worker import SingleFlight, WorkerGeneration

_MAX_ERROR_BODY = 300  # characters of an error reply quoted in gen.error


class OpenAIChatModel:
    """``LanguageModel`` over ``/v1/chat/completions``; one generation at a time.

    ``base_url`` is the API root, e.g. ``http://127.0.0.1:8080/v1`` (``/v1`` is added when missing).
    """

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        temperature: float = 0.6,
        grammar_field: str | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ModelError(f"base_url must be http(s)://host[:port][/v1], got {base_url!r}")
        self.base_url = base_url
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, parts.port
        path = parts.path.rstrip("/")
        self._path = (path if path.endswith("/v1") else path + "/v1") + "/chat/completions"
        self.model, self.api_key, self.timeout_s = model, api_key, timeout_s
        self.temperature, self.grammar_field = temperature, grammar_field
        self.extra_body = dict(extra_body or {})
        self._flight = SingleFlight("openai-generation")

    @property
    def endpoint(self) -> str:
        scheme = "https" if self._https else "http"
        port = f":{self._port}" if self._port else ""
        return f"{scheme}://{self._host}{port}{self._path}"

    def body(self, prompt: Prompt) -> dict[str, Any]:
        """The request body for ``prompt``."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": chat_messages(prompt),
            "stream": True,
            "max_tokens": prompt.max_tokens,
            "temperature": self.temperature,
            **self.extra_body,
        }
        if self.grammar_field:
            try:
                body[self.grammar_field] = build_grammar(prompt)
            except ValueError as e:
                raise ModelError(f"cannot build the grammar: {e}") from e
        return body

    def start(self, prompt: Prompt) -> Generation:
        payload = json.dumps(self.body(prompt)).encode()
        gen = WorkerGeneration()
        conn_cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = conn_cls(self._host, self._port, timeout=self.timeout_s)
        gen.on_cancel = lambda: _shutdown(conn)
        return self._flight.launch(gen, lambda g: self._stream(conn, payload, g))

    def _stream(self, conn: http.client.HTTPConnection, payload: bytes, gen: WorkerGeneration) -> None:
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        try:
            try:
                conn.request("POST", self._path, payload, headers)
                resp = conn.getresponse()
            except OSError as e:
                if gen.cancelled:
                    return
                raise ModelError(f"cannot reach {self.endpoint}: {e}") from e
            if resp.status != 200:
                text = resp.read(4096).decode("utf-8", "replace")[:_MAX_ERROR_BODY]
                raise ModelError(f"HTTP {resp.status} {resp.reason} from {self.endpoint}: {text}")
            self._read_events(resp, gen)
        except OSError as e:
            if not gen.cancelled:  # a read failing because cancel shut the socket is no error
                raise ModelError(f"connection to {self.endpoint} failed: {e}") from e
        finally:
            conn.close()

    def _read_events(self, resp: http.client.HTTPResponse, gen: WorkerGeneration) -> None:
        while not gen.cancelled:
            raw = resp.readline()
            if not raw:
                if gen.finish_reason is None:
                    raise ModelError(f"stream from {self.endpoint} ended without [DONE]")
                return
            line = raw.decode("utf-8", "replace").strip()
            if not line or line.startswith(":") or not line.startswith("data:"):
                continue  # blank separators, comments/pings, event:/id: fields
            data = line[5:].strip()
            if data == "[DONE]":
                gen.finish_reason = gen.finish_reason or "stop"
                return
            try:
                chunk = json.loads(data)
            except json.JSONDecodeError as e:
                raise ModelError(f"malformed SSE data from {self.endpoint}: {data[:80]!r}") from e
            if not isinstance(chunk, dict):
                raise ModelError(f"malformed SSE data from {self.endpoint}: {data[:80]!r}")
            if "error" in chunk:
                raise ModelError(f"{self.endpoint} reported: {str(chunk['error'])[:_MAX_ERROR_BODY]}")
            for choice in chunk.get("choices") or []:
                content = (choice.get("delta") or {}).get("content")
                if content:
                    gen.put(content)
                if choice.get("finish_reason"):
                    gen.finish_reason = choice["finish_reason"]

    def close(self) -> None:
        self._flight.close()


def _shutdown(conn: http.client.HTTPConnection) -> None:
    """Wake a worker blocked reading ``conn`` (close alone may not interrupt a blocked recv)."""
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
