"""Early pause: the agent's voice holds on the first window that *may* be the user.

A barge-in waits for the VAD to confirm speech (``speech_start``); every window of that wait
is the agent talking over the user. A pause is cheap and a late stop is not, so while the
agent talks, the first echo-cancelled window whose VAD probability reaches ``threshold`` (under
the onset's) opens a *maybe*: ``voice_maybe`` (state ``start``) goes out and the thinker pauses
the voice. The double-talk test stays the onset's: a window it calls the agent's own echo is
no maybe, whatever the VAD says (and ``AudioPerception`` asks for none while music plays).
Then either the onset is confirmed (the maybe is closed silently: the pause is now the
barge-in's), or it is not within the bound and ``voice_maybe`` (state ``end``) resumes the
voice from the same sample: ``release_ms`` without a maybe window, or ``max_ms`` in all. A
window that is no maybe must come before the next one, so a steady sound pauses the voice
once, not in a stutter.

The first VAD window that can hear a voice ends up to a window (32 ms) after its onset. A *level*
test on every ``level_ms`` block between the windows opens the maybe sooner: a block louder than
the room (``level_over_noise_db``) and than what the canceller can leave of the agent
(``level_over_echo_db`` above the double-talk test's margin). It has no idea what the sound is,
so the VAD windows that follow decide as above (a loud block counts as a maybe window for the
release, so one sound pauses the voice once); after a level maybe that ends unconfirmed the
level test waits for a block that is not loud, or a steady sound would pause the voice every
``release_ms``.

Pure decisions on per-window verdicts; ``AudioPerception`` owns the stream, the VAD and the events.
"""
from __future__ import annotations

from dataclasses import dataclass

START, END = "start", "end"


@dataclass
class EarlyPauseConfig:
    enabled: bool = True
    # Under the onset's (vad_threshold_busy): a voice's first window, only partly voiced, scores
    # low, and that window is the one a pause gains.
    threshold: float = 0.15  # VAD probability of a maybe window
    # Unconfirmed this long, the voice resumes: longer than a soft onset's first windows take to
    # confirm, short enough that a cough costs the agent a hiccup, not a word.
    release_ms: float = 96.0  # without a maybe window
    max_ms: float = 320.0  # in all
    by_level: bool = True  # also open on a loud ``level_ms`` block ahead of the VAD window
    level_ms: int = 10
    # Over the room's background level: a voice at a conversational distance is far above it.
    level_over_noise_db: float = 15.0
    # Over the double-talk test's predicted echo and margin: a 10 ms block's residual swings more
    # than the 32 ms windows that test learned from.
    level_over_echo_db: float = 6.0
    level_floor_db: float = -50.0  # a block quieter than this (dBFS) is never a maybe

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"EarlyPauseConfig.threshold must be in (0, 1], got {self.threshold!r}")
        if not 0.0 < self.release_ms <= self.max_ms:
            raise ValueError(f"EarlyPauseConfig needs 0 < release_ms <= max_ms, got {self.release_ms!r}, "
                             f"{self.max_ms!r}")
        if not 1 <= self.level_ms <= 32:
            raise ValueError(f"EarlyPauseConfig.level_ms must be in 1..32, got {self.level_ms!r}")


class EarlyPause:
    """Feed ``window`` once per VAD window and ``level`` once per level block (each returns
    ``START``, ``END`` or None: what to announce), and ``close`` when an onset is confirmed."""

    def __init__(self, config: EarlyPauseConfig | None = None, window_ms: float = 32.0) -> None:
        self.config = config or EarlyPauseConfig()
        self._window_ms = window_ms
        self.reset()

    def reset(self) -> None:
        self.open = False
        self._open_ms = 0.0  # since the maybe opened
        self._quiet_ms = 0.0  # since its last maybe window
        self._armed = True  # a window that was no maybe came since the last maybe
        self._level_armed = True  # a block that was not loud came since the last unconfirmed level maybe
        self.by_level = False  # the open maybe (or the last one) was opened by a level block

    def window(self, agent: bool, p: float, heard: bool) -> str | None:
        """One VAD window: is the agent talking, the VAD's probability, and can the window be the
        user over the agent's echo (the double-talk test, ``EchoFrontEnd.audible``)?"""
        cfg = self.config
        maybe = agent and cfg.enabled and p >= cfg.threshold and heard
        if not self.open:
            if maybe and self._armed:
                self.open, self._open_ms, self._quiet_ms, self._armed, self.by_level = True, 0.0, 0.0, False, False
                return START
            self._armed = self._armed or not maybe
            return None
        self._open_ms += self._window_ms
        self._quiet_ms = 0.0 if maybe else self._quiet_ms + self._window_ms
        if self._quiet_ms >= cfg.release_ms or self._open_ms >= cfg.max_ms or not agent:
            self.open, self._armed = False, self._quiet_ms > 0.0
            self._level_armed = self._level_armed and not self.by_level
            return END
        return None

    def level(self, agent: bool, loud: bool) -> str | None:
        """One ``level_ms`` block: is the agent talking, and is the block louder than the room and
        than the agent's residual (``EchoFrontEnd.loud_over_echo``)? ``START`` or None."""
        cfg = self.config
        if not loud:
            self._level_armed = True
            return None
        if self.open:  # still loud: whatever it is goes on, so the release waits
            self._quiet_ms = 0.0
            return None
        if not (agent and cfg.enabled and cfg.by_level and self._armed and self._level_armed):
            return None
        self.open, self._open_ms, self._quiet_ms, self._armed, self.by_level = True, 0.0, 0.0, False, True
        return START

    def close(self) -> bool:
        """Settle an open maybe without an ``END`` decision (an onset confirmed it: its pause is the
        barge-in's; or the stream ended). True if one was open."""
        was, self.open, self._armed = self.open, False, False
        return was

    @property
    def held_ms(self) -> float:
        """How long (ms, whole windows) the open maybe, or the last one, has held the voice."""
        return self._open_ms
