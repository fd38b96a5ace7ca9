"""SingleFlight: one generation inside the model at a time, and no pile of waiting threads when
the model is slow to let go of a cancelled one (the soak's thinker went from 32 to 64 threads)."""
from __future__ import annotations

import threading
import time

from seal_nodes.core.thinking.lm.base import ModelError
from seal_nodes.core.thinking.lm.worker import SingleFlight, WorkerGeneration
from seal_nodes.tools.waiting import wait_until


def drain(gen: WorkerGeneration) -> list[str]:
    """Every piece of ``gen`` once it is done (a generation is done when its pieces are taken)."""
    pieces: list[str] = []
    wait_until(lambda: pieces.extend(gen.poll()) or gen.done, 10, "the generation to end")
    return pieces


class StuckModel:
    """A model that ignores cancels until released, like llama.cpp reading a long prompt."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls: list[int] = []
        self.inside = 0
        self.most_inside = 0
        self._lock = threading.Lock()

    def work(self, n: int):
        def run(gen: WorkerGeneration) -> None:
            with self._lock:
                self.calls.append(n)
                self.inside += 1
                self.most_inside = max(self.most_inside, self.inside)
            self.release.wait(30)
            gen.put(f"piece{n}")
            with self._lock:
                self.inside -= 1
        return run


def test_a_stuck_generation_keeps_later_ones_out_of_the_model_and_the_waiters_leave():
    model, flight = StuckModel(), SingleFlight("test", busy_wait_s=30)
    gens = [flight.launch(WorkerGeneration(), model.work(0))]
    wait_until(lambda: model.calls == [0], 10, "the first generation inside the model")
    for n in range(1, 30):
        gens.append(flight.launch(WorkerGeneration(), model.work(n)))
    # every superseded waiter has gone: the stuck one and the newest are all that is left
    wait_until(lambda: all(g.done for g in gens[1:-1]), 10, "the superseded waiters to end")
    wait_until(lambda: flight.threads == 2, 10, "two workers left")
    assert all(g.finish_reason == "cancelled" for g in gens[1:-1])
    assert model.calls == [0]
    model.release.set()
    assert drain(gens[-1]) == ["piece29"]
    assert model.calls == [0, 29] and model.most_inside == 1
    assert gens[-1].finish_reason is None and gens[-1].error is None
    assert flight.close()


def test_a_waiter_gives_up_with_a_clear_error_when_the_model_never_lets_go():
    model, flight = StuckModel(), SingleFlight("test-model", busy_wait_s=0.2)
    first = flight.launch(WorkerGeneration(), model.work(0))
    wait_until(lambda: model.calls == [0], 10, "the first generation inside the model")
    second = flight.launch(WorkerGeneration(), model.work(1))
    wait_until(lambda: second.done, 10, "the waiter to give up")
    assert second.finish_reason == "error"
    assert "test-model" in second.error and "still busy" in second.error
    assert first.cancelled and model.calls == [0]
    assert not flight.close(wait_s=0.1)  # the stuck one is still inside
    model.release.set()
    wait_until(lambda: flight.threads == 0, 10, "every worker to end")


def test_failures_become_the_generations_error():
    flight = SingleFlight("test")

    def clean(gen: WorkerGeneration) -> None:
        raise ModelError("the server said no")

    def crash(gen: WorkerGeneration) -> None:
        raise KeyError("x")

    a = flight.launch(WorkerGeneration(), clean)
    wait_until(lambda: a.done, 10, "the first failure")
    assert a.error == "the server said no" and a.finish_reason == "error"
    b = flight.launch(WorkerGeneration(), crash)
    wait_until(lambda: b.done, 10, "the second failure")
    assert b.error == "KeyError: 'x'"
    # a failure releases the model for the next one
    c = flight.launch(WorkerGeneration(), lambda gen: gen.put("ok"))
    assert drain(c) == ["ok"] and c.error is None
    assert flight.close() and flight.threads == 0


def test_a_cancel_seen_by_the_work_is_reported_as_cancelled():
    flight, started = SingleFlight("test"), threading.Event()

    def polite(gen: WorkerGeneration) -> None:
        started.set()
        while not gen.cancelled:
            gen.put("x")
            time.sleep(0.005)

    gen = flight.launch(WorkerGeneration(), polite)
    assert started.wait(10)
    assert flight.close()
    assert gen.finish_reason == "cancelled" and gen.done
