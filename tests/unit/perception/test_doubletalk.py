import numpy as np
import pytest

from seal_nodes.core.perception.echo.doubletalk import SILENT_DB, DoubleTalkDetector, level_db

pytestmark = pytest.mark.unit
WIN = 512


def tone(db: float, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, n)
    x *= 10 ** (db / 20) * 32768 / np.sqrt(np.mean(x**2))
    return np.clip(x, -32768, 32767).astype(np.int16)


def test_level_db():
    assert level_db(np.zeros(10, np.int16)) == SILENT_DB
    assert level_db(np.zeros(0, np.int16)) == SILENT_DB
    assert abs(level_db(tone(-20, 4000)) + 20) < 0.2


def test_without_playback_everything_can_be_the_user():
    d = DoubleTalkDetector()
    assert d.user_dominant(tone(-60, WIN), np.zeros(5 * WIN, np.int16))


def test_before_learning_the_echo_may_be_louder_than_the_playback():
    d = DoubleTalkDetector()
    ref = tone(-20, 5 * WIN)
    assert not d.user_dominant(tone(-16, WIN), ref)  # an echo 4 dB over the playback
    assert d.user_dominant(tone(-8, WIN), ref)  # a voice well above it


def test_learns_the_residual_and_then_hears_quieter_talk():
    d = DoubleTalkDetector()
    ref = tone(-20, 5 * WIN, seed=1)
    for k in range(60):  # the canceller leaves the echo 25 (± 3) dB under the playback
        d.learn(tone(-45 + 3 * np.sin(k), WIN, seed=k), ref)
    assert -25 < d.gain_db < -21  # an upper percentile, not the mean
    assert not d.user_dominant(tone(-43, WIN), ref)  # the residual itself
    assert d.user_dominant(tone(-35, WIN), ref)  # a user 15 dB under the playback, 10 over the residual


def test_nothing_is_learned_in_a_pause_of_the_playback_or_before_enough_windows():
    d = DoubleTalkDetector()
    ref = tone(-20, 5 * WIN)
    for k in range(50):  # the playback pauses: the quiet microphone says nothing about the echo path
        d.learn(tone(-70, WIN, seed=k), ref, ref_now=np.zeros(WIN, np.int16))
    assert d.gain_db == d.config.initial_gain_db
    for k in range(10):
        d.learn(tone(-45, WIN, seed=k), ref)
    assert d.gain_db == d.config.initial_gain_db  # too few observations yet
    d.reset()
    assert d.gain_db == d.config.initial_gain_db
