"""Run launch nodes as OS processes: prefixed output, respawn with backoff, clean escalating shutdown.

Every node runs in its own session/process group so one ``killpg`` reaches the grandchildren it
spawned. The supervisor makes itself a child subreaper (Linux) so orphaned grandchildren are
reparented to it and reaped here instead of lingering as zombies under a PID 1 that may not reap.
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from seal_nodes.launcher.yaml_launch import NodeSpec

EventCallback = Callable[[str, NodeSpec, dict], None]
Resolver = Callable[[NodeSpec], Sequence[str]]

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_POLL_S = 0.05


def _load_libc(name: str) -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return getattr(ctypes.CDLL(None, use_errno=True), name)
    except (OSError, AttributeError):
        return None


# Resolved once in the parent: the preexec_fn must not dlopen between fork and exec.
_prctl = _load_libc("prctl")
_c_signal = _load_libc("signal")
_SIG_DFL = 0


def _preexec(parent_pid: int) -> Callable[[], None]:
    def run() -> None:
        # A node must stop on SIGINT however the launcher was started: a background job of a
        # non-interactive shell (nohup, CI runners) inherits SIGINT *ignored*, and Python keeps
        # an inherited SIG_IGN, so its nodes would only die by SIGTERM. (libc's signal(): this
        # runs in the forking thread, where Python's signal.signal() is not allowed.)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        if _c_signal is not None:
            _c_signal(signal.SIGINT, _SIG_DFL)
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != parent_pid:  # parent already died before prctl took effect
                os._exit(1)
    return run


@dataclass
class NodeStatus:
    label: str
    pid: int | None
    restarts: int
    alive: bool
    returncode: int | None


class _Managed:
    def __init__(self, label: str, spec: NodeSpec) -> None:
        self.label = label
        self.spec = spec
        self.proc: subprocess.Popen | None = None
        self.pgid: int | None = None
        self.stale_pgids: list[int] = []  # groups of earlier instances, until fully reaped
        self.started_at = 0.0
        self.restarts = 0
        self.fast_crashes = 0
        self.respawn_at: float | None = None
        self.done = False  # exited and will not be respawned
        self.readers: list[threading.Thread] = []


def _group_members(pgid: int) -> list[tuple[int, str]]:
    """(pid, state) of processes in the group; a zombie ('Z') counts as dead but unreaped."""
    members = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        entries = []
    if not entries:  # no /proc: fall back to a signal-0 probe
        try:
            os.killpg(pgid, 0)
            return [(pgid, "?")]
        except (ProcessLookupError, PermissionError):
            return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()  # comm may contain spaces and parens
        if int(fields[2]) == pgid:
            members.append((int(entry), fields[0]))
    return members


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _reap_group(pgid: int) -> list[tuple[int, int]]:
    """waitpid every exited child of ours in the group; returns (pid, status) pairs."""
    reaped = []
    while True:
        try:
            pid, status = os.waitpid(-pgid, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid == 0:
            return reaped
        reaped.append((pid, status))


class Supervisor:
    """Start, watch, respawn and stop a set of nodes.

    ``resolve(spec)`` returns the full argv for a node (typically the executable path followed by
    ``spec.argv_tail()``). Environment: ``os.environ`` + ``env`` + ``spec.env``.
    Events passed to ``on_event(kind, spec, info)``: ``started`` {pid, restarts, label},
    ``exited`` {pid, returncode, restarts, respawn, delay, label} for exits not caused by stop(),
    ``gave_up`` {restarts, label} when ``max_restarts`` is hit, ``stopped`` {pid, returncode, label}.
    """

    def __init__(self, nodes: Sequence[NodeSpec], resolve: Resolver, *,
                 env: Mapping[str, str] | None = None, on_event: EventCallback | None = None,
                 log: Callable[[str], None] | None = None, cwd: str | None = None,
                 max_restarts: int | None = None, stable_after: float = 10.0,
                 backoff_factor: float = 2.0, min_backoff: float = 0.5,
                 max_respawn_delay: float = 30.0, subreaper: bool = True) -> None:
        self._resolve = resolve
        self._env = dict(env or {})
        self._on_event = on_event
        self._log_fn = log or self._default_log
        self._cwd = cwd
        self.max_restarts = max_restarts
        self.stable_after = stable_after
        self.backoff_factor = backoff_factor
        self.min_backoff = min_backoff
        self.max_respawn_delay = max_respawn_delay
        self._subreaper = subreaper
        self._lock = threading.RLock()
        self._log_lock = threading.Lock()
        self._stopping = threading.Event()
        self._finished = threading.Event()
        self._started = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_error: BaseException | None = None
        self._stop_timeout = 5.0
        self._shut_down = False
        self._nodes: list[_Managed] = []
        seen: dict[str, int] = {}
        for spec in nodes:  # duplicate names get -2, -3 ... so logs and status stay unambiguous
            seen[spec.label] = seen.get(spec.label, 0) + 1
            label = spec.label if seen[spec.label] == 1 else f"{spec.label}-{seen[spec.label]}"
            self._nodes.append(_Managed(label, spec))

    # ------------------------------------------------------------ public API

    def start(self) -> None:
        """Spawn every node; returns once all initial processes exist (or raises if one failed)."""
        if self._thread is not None:
            raise RuntimeError("supervisor already started")
        if self._subreaper and _prctl is not None:
            _prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        # All spawns happen on this one long-lived thread: PDEATHSIG fires when the *thread* that
        # forked the child exits, so spawning from a short-lived thread would kill the child early.
        self._thread = threading.Thread(target=self._monitor, name="launch-supervisor", daemon=True)
        self._thread.start()
        self._started.wait()
        if self._start_error is not None:
            self.stop(timeout=1.0)
            raise self._start_error

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every node has exited for good (or stop() ran). False on timeout."""
        return self._finished.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """SIGINT every group, then SIGTERM, then SIGKILL, ``timeout`` seconds apart; reap all."""
        self._stop_timeout = timeout
        self._stopping.set()
        t = self._thread
        if t is not None and t.is_alive() and t is not threading.current_thread():
            # The monitor thread does the shutdown itself: children die with the thread that
            # forked them (PDEATHSIG), so it must outlive the graceful SIGINT phase.
            t.join()
        if not self._shut_down:
            self._shutdown(timeout)

    def _shutdown(self, timeout: float) -> None:
        self._shut_down = True
        live = [m for m in self._nodes if m.pgid is not None and self._group_alive(m)]
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            if not live:
                break
            self._log(f"[launch] sending {sig.name} to {', '.join(m.label for m in live)}")
            for m in live:
                _killpg(m.pgid, sig)
            deadline = time.monotonic() + timeout
            while live and time.monotonic() < deadline:
                time.sleep(_POLL_S)
                live = [m for m in live if self._group_alive(m)]
        for m in live:
            self._log(f"[launch] {m.label}: process group {m.pgid} still present after SIGKILL")
        deadline = time.monotonic() + timeout
        while any(m.stale_pgids for m in self._nodes) and time.monotonic() < deadline:
            for m in self._nodes:
                for pgid in m.stale_pgids:
                    _killpg(pgid, signal.SIGKILL)
                self._reap(m)
            time.sleep(_POLL_S)
        for m in self._nodes:
            self._reap(m)
            if m.proc is not None and not m.done:
                m.done = True
                if m.respawn_at is None and m.proc.returncode is not None:
                    self._emit("stopped", m, pid=m.proc.pid, returncode=m.proc.returncode)
            m.respawn_at = None
            for t in m.readers:
                t.join(timeout=1.0)
        self._finished.set()

    def status(self) -> dict[str, NodeStatus]:
        with self._lock:
            return {m.label: NodeStatus(m.label, m.proc.pid if m.proc else None, m.restarts,
                                        bool(m.proc and m.proc.returncode is None),
                                        m.proc.returncode if m.proc else None)
                    for m in self._nodes}

    def __enter__(self) -> Supervisor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ internals

    @staticmethod
    def _default_log(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def _log(self, line: str) -> None:
        with self._log_lock:
            self._log_fn(line)

    def _emit(self, kind: str, m: _Managed, **info: object) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(kind, m.spec, {"label": m.label, **info})
        except Exception as exc:  # a broken callback must not take the supervisor down
            self._log(f"[launch] on_event callback failed for {kind} {m.label}: {exc!r}")

    def _spawn(self, m: _Managed) -> None:
        if m.pgid is not None:
            # Leftovers of the crashed instance would otherwise run twice next to the new one.
            _killpg(m.pgid, signal.SIGKILL)
            m.stale_pgids.append(m.pgid)
        argv = list(self._resolve(m.spec))
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self._env, **m.spec.env}
        proc = subprocess.Popen(argv, env=env, cwd=self._cwd, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, preexec_fn=_preexec(os.getpid()))
        with self._lock:
            m.proc, m.pgid = proc, proc.pid  # new session => pgid == pid
        m.started_at = time.monotonic()
        m.readers = [threading.Thread(target=self._pump, args=(m.label, pipe), daemon=True)
                     for pipe in (m.proc.stdout, m.proc.stderr)]
        for t in m.readers:
            t.start()
        self._log(f"[launch] {m.label} started with pid {m.proc.pid}")
        self._emit("started", m, pid=m.proc.pid, restarts=m.restarts)

    def _pump(self, label: str, pipe) -> None:
        with pipe:
            for raw in iter(pipe.readline, b""):
                self._log(f"[{label}] {raw.decode('utf-8', 'replace').rstrip()}")

    def _reap(self, m: _Managed) -> None:
        """Reap dead members of m's groups; keeps Popen's returncode right if we reap the leader."""
        with self._lock:
            for pgid in list(m.stale_pgids):
                _reap_group(pgid)
                if not _group_members(pgid):
                    m.stale_pgids.remove(pgid)
            if m.pgid is None:
                return
            for pid, status in _reap_group(m.pgid):
                if m.proc is not None and pid == m.proc.pid and m.proc.returncode is None:
                    m.proc.returncode = os.waitstatus_to_exitcode(status)
            if m.proc is not None:
                m.proc.poll()

    def _group_alive(self, m: _Managed) -> bool:
        self._reap(m)
        return any(state != "Z" for _, state in _group_members(m.pgid)) if m.pgid else False

    def _monitor(self) -> None:
        try:
            for m in self._nodes:
                self._spawn(m)
        except BaseException as exc:  # e.g. resolve() failed or executable missing
            self._start_error = exc
            self._started.set()
            self._stopping.wait()
            self._shutdown(self._stop_timeout)  # kill the ones already spawned from this thread
            return
        self._started.set()
        while not self._stopping.is_set():
            now = time.monotonic()
            for m in self._nodes:
                if m.done or self._stopping.is_set():
                    continue
                if m.respawn_at is not None:
                    if now >= m.respawn_at:
                        m.respawn_at = None
                        m.restarts += 1
                        try:
                            self._spawn(m)
                        except Exception as exc:
                            self._log(f"[launch] {m.label}: respawn failed: {exc!r}")
                            m.done = True
                    continue
                self._reap(m)
                if m.proc is not None and m.proc.returncode is not None and m.respawn_at is None:
                    self._on_exit(m, now)
            if all(m.done for m in self._nodes):
                self._finished.set()  # stop() still runs later to clear leftover grandchildren
                return
            self._stopping.wait(_POLL_S)
        if not self._shut_down:  # stop() may have been called from an on_event callback
            self._shutdown(self._stop_timeout)

    def _on_exit(self, m: _Managed, now: float) -> None:
        code = m.proc.returncode
        spec = m.spec
        base = f"[launch] {m.label} exited with code {code}"
        if not spec.respawn:
            m.done = True
            self._log(base)
            self._emit("exited", m, pid=m.proc.pid, returncode=code, restarts=m.restarts,
                       respawn=False, delay=None)
            return
        if self.max_restarts is not None and m.restarts >= self.max_restarts:
            m.done = True
            self._log(f"{base}; giving up after {m.restarts} restarts")
            self._emit("exited", m, pid=m.proc.pid, returncode=code, restarts=m.restarts,
                       respawn=False, delay=None)
            self._emit("gave_up", m, restarts=m.restarts)
            return
        # Crash loops back off exponentially; a run longer than stable_after resets the streak.
        m.fast_crashes = m.fast_crashes + 1 if now - m.started_at < self.stable_after else 1
        delay = spec.respawn_delay
        if m.fast_crashes > 1:
            delay = min(max(delay, self.min_backoff) * self.backoff_factor ** (m.fast_crashes - 1),
                        self.max_respawn_delay)
        m.respawn_at = now + delay
        self._log(f"{base}; respawning in {delay:.1f} s (restart {m.restarts + 1})")
        self._emit("exited", m, pid=m.proc.pid, returncode=code, restarts=m.restarts,
                   respawn=True, delay=delay)


def run_until_signal(supervisor: Supervisor, *, stop_timeout: float = 5.0,
                     on_started: Callable[[Supervisor], None] | None = None) -> int:
    """Start (if needed) and run until SIGINT/SIGTERM or until every node exits, then stop cleanly.

    Handlers go in before start() so an early Ctrl-C still stops cleanly. Must be called from the
    main thread. Returns 0 if stopped by a signal or all nodes exited 0, else 1.
    """
    got = threading.Event()

    def handler(_signum: int, _frame: object) -> None:
        got.set()

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        if supervisor._thread is None:
            supervisor.start()
        if on_started is not None:
            on_started(supervisor)
        while not got.is_set() and not supervisor.wait(0.2):
            pass
        by_signal = got.is_set()
        supervisor.stop(timeout=stop_timeout)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    if by_signal:
        return 0
    return 0 if all(st.returncode == 0 for st in supervisor.status().values()) else 1
