"""The loudspeaker's jitter buffer: what is pushed is pulled whole and in order, however late;
silence while nothing waits; bounded."""
import threading

import numpy as np
import pytest

from seal_nodes.core.audio.playout import PlayoutBuffer

pytestmark = pytest.mark.unit


def samples(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.int16)


def test_pulls_give_every_sample_in_order_across_chunk_boundaries_then_silence():
    buf = PlayoutBuffer(rate=16000)
    buf.push(np.arange(1, 161, dtype=np.int16))
    buf.push(np.arange(161, 301, dtype=np.int16))
    got = np.concatenate([samples(buf.pull(100)) for _ in range(4)])
    assert got[:300].tolist() == list(range(1, 301)) and not got[300:].any()
    assert buf.queued == 0 and buf.dropped == 0


def test_a_late_chunk_plays_late_not_lost():
    buf = PlayoutBuffer(rate=16000)
    assert not samples(buf.pull(160)).any()  # the device ran dry: silence, no error
    buf.push(np.full(320, 7, dtype=np.int16))
    assert (samples(buf.pull(320)) == 7).all()


def test_bounded_the_oldest_audio_goes_first_and_is_counted():
    buf = PlayoutBuffer(rate=100, max_s=1.0)  # 100 samples at most
    buf.push(np.arange(80, dtype=np.int16))
    buf.push(np.arange(80, 150, dtype=np.int16))
    assert buf.queued == 100 and buf.dropped == 50
    assert samples(buf.pull(100)).tolist() == list(range(50, 150))


def test_a_producer_and_the_device_thread_at_once_lose_nothing():
    buf = PlayoutBuffer(rate=16000)
    pushed = np.arange(20_000, dtype=np.int16)
    got: list[np.ndarray] = []

    def device() -> None:  # pulls as a callback would, running dry now and then
        heard = 0
        while heard < len(pushed) - 1:
            got.append(samples(buf.pull(137)))
            heard += int(np.count_nonzero(got[-1]))
    t = threading.Thread(target=device)
    t.start()
    for i in range(0, len(pushed), 160):
        buf.push(pushed[i:i + 160])
    t.join(timeout=30)
    out = np.concatenate(got)
    assert out[out != 0].tolist() == pushed[1:].tolist()  # all of it, in order (0 is the silence)


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError):
        PlayoutBuffer(rate=0)
    with pytest.raises(ValueError):
        PlayoutBuffer(rate=16000, max_s=0)
