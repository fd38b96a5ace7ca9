"""Audio threads ahead of the rest of a busy machine.

Speech onsets and barge-ins are judged on the audio thread: when every core is busy it must
still run each chunk as it arrives. Real-time scheduling needs a privilege (CAP_SYS_NICE or an
``rtprio`` limit) and a lower nice value a ``nice`` limit; without either the thread runs as it
was, and the caller says so in its log.

Where the kernel shares CPU time out by session (autogroup, on in Ubuntu's kernels), a thread's
nice only orders it against threads of its own session: another session's busy loop gets the
same share whatever the nice. What weights a node against the rest of the machine is its
session's nice, which only a node leading its own session (as the launcher starts each one)
may change without lifting the processes that started it.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

FIFO_PRIORITY = 10  # above ordinary threads, well below the kernel's own real-time work
CONTROL_FIFO_PRIORITY = 5  # the control path (sim threads, the policy's loop), below the audio thread
NICE_BOOST = 5
SESSION_NICE = -5  # a share about three times a nice-0 session's (CFS weights 3121 vs 1024)
AUTOGROUP = Path("/proc/self/autogroup")
AUTOGROUP_ENABLED = Path("/proc/sys/kernel/sched_autogroup_enabled")


def autogroup_enabled(switch: Path = AUTOGROUP_ENABLED) -> bool | None:
    """Does the kernel share CPU time out by session (None: cannot tell)?"""
    try:
        return switch.read_text().strip() == "1"
    except OSError:
        return None


def raise_session_priority(nice: int = SESSION_NICE, autogroup: Path = AUTOGROUP,
                           switch: Path = AUTOGROUP_ENABLED) -> str:
    """Weight this process's session (its autogroup) to ``nice`` where that is permitted and
    the session is this process's own; returns what it got, in words. Never raises."""
    if autogroup_enabled(switch) is not True:
        return "unchanged (the kernel does not share CPU time out by session here)"
    if os.getsid(0) != os.getpid():
        return "unchanged (not a session leader: the session is shared with the processes that started this one)"
    try:
        current = int(autogroup.read_text().split()[-1])  # "/autogroup-5141 nice 0"
    except (OSError, ValueError, IndexError) as exc:
        return f"unchanged (cannot read {autogroup}: {exc})"
    if current <= nice:
        return f"session nice {current}"
    try:
        autogroup.write_text(str(nice))
    except OSError as exc:
        return f"unchanged (no permission for a session nice below {current}: {exc.strerror or exc})"
    return f"session nice {nice}"


def raise_thread_priority(fifo_priority: int = FIFO_PRIORITY, nice_boost: int = NICE_BOOST) -> str:
    """Give the calling thread the best scheduling permitted; returns what it got, in words."""
    tid = threading.get_native_id()
    if hasattr(os, "sched_setscheduler"):
        try:
            # RESET_ON_FORK: threads a library starts later from this one run as ordinary threads
            policy = os.SCHED_FIFO | getattr(os, "SCHED_RESET_ON_FORK", 0)
            os.sched_setscheduler(tid, policy, os.sched_param(fifo_priority))
            return f"SCHED_FIFO priority {fifo_priority}"
        except (OSError, ValueError):
            pass  # not permitted: try a lower nice value instead
    try:
        nice = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, nice - nice_boost)
        return f"nice {nice - nice_boost}"
    except OSError as exc:
        return f"unchanged (no permission for SCHED_FIFO or a lower nice: {exc.strerror or exc})"
