import numpy as np
import pytest

from seal_nodes.core.audio.frames import StreamResampler, resample

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("src,dst,chunk", [(48000, 16000, 960), (44100, 16000, 1024), (16000, 48000, 320),
                                           (22050, 48000, 441)])
def test_chunked_stream_matches_the_continuous_signal(src, dst, chunk):
    """A sine cut into chunks comes out as one seamless sine at the new rate (no drift, no seams)."""
    t = np.arange(src) / src
    x = (10000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    r = StreamResampler(src, dst)
    out = np.concatenate([r.process(x[i:i + chunk]) for i in range(0, len(x), chunk)])
    assert dst - 3 <= len(out) <= dst  # a few outputs may wait for the next chunk
    ref = 10000 * np.sin(2 * np.pi * 440 * np.arange(len(out)) / dst)
    assert np.max(np.abs(out - ref)) < 0.01 * 10000  # linear interpolation error only


def test_whole_buffer_length_and_identity():
    x = np.arange(1000, dtype=np.int16)
    assert len(resample(x, 22050, 16000)) == round(1000 * 16000 / 22050)
    assert resample(x, 16000, 16000) is x
    with pytest.raises(ValueError):
        StreamResampler(0, 16000)


def test_capture_clock_counts_samples_through_bursty_arrivals():
    from seal_nodes.core.audio.frames import CaptureClock

    clock = CaptureClock(16000)
    t = 1_000_000_000
    arrivals = [t + 20_000_000, t + 61_000_000, t + 61_500_000, t + 80_200_000, t + 100_000_000]  # bursts, never early
    stamps = [clock.stamp(320, a) for a in arrivals]
    assert stamps == [t + k * 20_000_000 for k in range(5)]  # 20 ms apart whatever the arrival jitter
    assert clock.resyncs == 0


def test_capture_clock_resyncs_on_lost_samples_and_never_stamps_the_future():
    from seal_nodes.core.audio.frames import CaptureClock

    clock = CaptureClock(16000, resync_ms=100)
    t = 1_000_000_000
    assert clock.stamp(320, t + 20_000_000) == t
    assert clock.stamp(320, t + 500_000_000) == t + 480_000_000  # 460 ms behind: samples were lost
    assert clock.resyncs == 1
    assert clock.lost_ns == 460_000_000
    clock2 = CaptureClock(16000)
    clock2.stamp(320, t + 50_000_000)  # a late first arrival anchors late...
    assert clock2.stamp(320, t + 45_000_000) <= t + 45_000_000 - 20_000_000  # ...and is pulled back
    assert clock2.lost_ns == 0  # an early anchor corrected is no loss
