"""Audio threads ahead of the rest of a busy machine.

Speech onsets and barge-ins are judged on the audio thread: when every core is busy it must
still run each chunk as it arrives. Real-time scheduling needs a privilege (CAP_SYS_NICE or an
``rtprio`` limit) and a lower nice value a ``nice`` limit; without either the thread runs as it
was, and the caller says so in its log.
"""
from __future__ import annotations

import os
import threading

FIFO_PRIORITY = 10  # above ordinary threads, well below the kernel's own real-time work
CONTROL_FIFO_PRIORITY = 5  # the control path (sim threads, the policy's loop), below the audio thread
NICE_BOOST = 5


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
