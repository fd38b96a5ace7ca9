"""The OpenAI-compatible client against a REAL llama.cpp HTTP server on loopback (SmolLM2 through
xllamacpp), and its error paths against a refused port and a tiny misbehaving local server."""
from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest
from tests.helpers.lm import check_protocol, drain

from seal_nodes.core.thinking.lm.base import ModelError, Prompt
from seal_nodes.core.thinking.lm.llama import LlamaModel
from seal_nodes.core.thinking.lm.openai_client import OpenAIChatModel

pytestmark = pytest.mark.unit

OBJECTS = ("red_cube", "blue_ball")
ACTIONS = ("pick", "place", "home")
SYSTEM = "You are a robot arm. Objects: red_cube, blue_ball. Actions: pick, place in the bin, home."


def prompt(force: str = "free", max_tokens: int = 64) -> Prompt:
    return Prompt(SYSTEM, "<user>Pick up the red cube.</user>", force=force, max_tokens=max_tokens,
                  objects=OBJECTS, actions=ACTIONS)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The llama.cpp server's OpenAI API root on 127.0.0.1 (a random free port)."""
    llama = LlamaModel(n_ctx=2048, port=0)
    yield llama.url + "/v1"
    llama.close()


class Misbehaving(BaseHTTPRequestHandler):
    """``/e500/…`` answers 500, ``/garbage/…`` sends non-JSON events, ``/cut/…`` stops without
    [DONE], ``/ok/…`` a two-piece stream; the last request's headers are kept."""

    last_headers: dict[str, str] = {}

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        Misbehaving.last_headers = dict(self.headers)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        kind = self.path.split("/")[1]
        if kind == "e500":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b'{"error": "model exploded"}')
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        chunk = json.dumps({"choices": [{"index": 0, "delta": {"content": "<think>hi</think>"}}]})
        if kind == "garbage":
            self.wfile.write(b"data: {not json\n\n")
        elif kind == "cut":
            self.wfile.write(f"data: {chunk}\n\n".encode())
        else:
            self.wfile.write(f": ping\n\ndata: {chunk}\n\ndata: {chunk}\n\ndata: [DONE]\n\n".encode())

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass


@pytest.fixture(scope="module")
def bad_server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_streams_from_a_real_llama_cpp_server(server: str, record_property) -> None:
    client = OpenAIChatModel(server, "smollm2")
    client.start(prompt(max_tokens=4)).wait_finished(30)  # warm the server's prompt cache
    t0 = time.monotonic()
    gen = client.start(prompt(max_tokens=64))
    run = drain(gen, t0)
    assert gen.error is None and run.pieces > 1 and gen.finish_reason in ("stop", "length")
    record_property("first_piece_s", run.first_piece_s)
    record_property("pieces_per_s", run.pieces_per_s)
    print(f"\nopenai via llama.cpp HTTP: first piece {run.first_piece_s * 1000:.0f} ms, "
          f"{run.pieces_per_s:.0f} pieces/s ({run.pieces} pieces)")


def test_grammar_field_gives_the_tag_protocol(server: str) -> None:
    # greedy and seeded: the same bounded output every run (4 segments of ≤ 240 chars fit 400 tokens)
    client = OpenAIChatModel(server, "smollm2", grammar_field="grammar", temperature=0.0, extra_body={"seed": 0})
    gen = client.start(prompt("answer", max_tokens=400))
    run = drain(gen)
    assert gen.error is None and gen.finish_reason == "stop", run.text
    check_protocol(run.text, "answer", set(OBJECTS), set(ACTIONS))


def test_cancel_closes_the_stream(server: str) -> None:
    client = OpenAIChatModel(server, "smollm2")
    gen = client.start(prompt(max_tokens=400))
    while gen.pieces < 3 and not gen.done:
        time.sleep(0.001)
    gen.cancel()
    at_cancel = gen.produced
    assert gen.wait_finished(20)
    assert gen.done and gen.poll() == [] and gen.error is None
    assert gen.produced - at_cancel <= 3


def test_second_start_cancels_the_first(server: str) -> None:
    client = OpenAIChatModel(server, "smollm2")
    first = client.start(prompt(max_tokens=400))
    while first.pieces < 1:
        time.sleep(0.001)
    second = client.start(prompt(max_tokens=8))
    assert first.cancelled and first.done and first.poll() == []
    assert drain(second).pieces > 0 and second.error is None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_refused() -> None:
    gen = OpenAIChatModel(f"http://127.0.0.1:{free_port()}/v1", "m").start(prompt())
    assert gen.wait_finished(10)
    assert gen.done and gen.error is not None and "cannot reach" in gen.error and "refused" in gen.error


@pytest.mark.parametrize(
    "kind, message",
    [("e500", "HTTP 500"), ("garbage", "malformed SSE"), ("cut", "ended without [DONE]")],
)
def test_server_errors(bad_server: str, kind: str, message: str) -> None:
    gen = OpenAIChatModel(f"{bad_server}/{kind}/v1", "m").start(prompt())
    drain(gen, timeout_s=10)  # pieces before the failure are still delivered
    assert gen.error is not None and message in gen.error, gen.error


def test_api_key_and_path(bad_server: str) -> None:
    client = OpenAIChatModel(f"{bad_server}/ok", "m", api_key="sk-local")  # /v1 is added
    assert client.endpoint == f"{bad_server}/ok/v1/chat/completions"
    run = drain(client.start(prompt()))
    assert run.text == "<think>hi</think><think>hi</think>"
    assert Misbehaving.last_headers["Authorization"] == "Bearer sk-local"


def test_bad_base_url() -> None:
    with pytest.raises(ModelError, match="base_url"):
        OpenAIChatModel("localhost:8080", "m")
