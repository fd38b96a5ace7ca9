"""memory: /seal/events in → episodes on disk and summaries in the knowledge base.

A thin adapter over ``seal_nodes.core.memory.episodes.EpisodeRecorder``: every event of the loop
is fed in arrival order, the clock closes idle episodes, a ``forget`` event (a user asked for
it) deletes that user's entries and raw files, and a ``voice`` event (a turn's speaker embedding)
is matched against the enrolled voices and answered with ``user_identified``. A
``skill_learned`` event (a lesson the GUI executor compiled) goes into the skill library with
the episode it was shown in, and a ``skill_outcome`` counts towards trusting or retiring that
skill. The thinker reads the same store file itself; this
node is its only writer. MiniLM joins once warm (on a thread of its own, behind everything
real-time); until then new entries are found by BM25 and get no embedding.
"""
from __future__ import annotations

import os
import threading
from dataclasses import replace

import numpy as np

from seal_nodes.nodes.common import SealNode, event_bounds, msg_to_event, run, subscription

from seal_interfaces.msg import Event

from seal_nodes.core import events as ev
from seal_nodes.core import topics
from seal_nodes.core.language.encoder import SentenceEncoder
from seal_nodes.core.memory.episodes import EpisodeRecorder, RecorderConfig
from seal_nodes.core.memory.backends import make_store
from seal_nodes.core.memory.location import default_dir, qdrant_url, store_path
from seal_nodes.core.memory.store import StoreError
from seal_nodes.core.memory.summaries import Summariser
from seal_nodes.core.memory.users import UserRegistry
from seal_nodes.core.skills.library import SkillLibrary
from seal_nodes.core.skills.model import Skill
from seal_nodes.core.thinking.lm.base import ModelError
from seal_nodes.core.thinking.lm.registry import make_model
from seal_nodes.core.thinking.lm.summarise import summariser

WARM_NICENESS = 10
MAX_EMBEDDING = 4096  # values in a voice embedding: refused beyond, before any work


class MemoryNode(SealNode):
    def __init__(self) -> None:
        super().__init__("memory")
        self.summary_lm = None
        folder = str(self.declare_parameter("memory_dir", "").value) or str(default_dir())
        user = str(self.declare_parameter("user", "").value) or None
        cfg = RecorderConfig(idle_gap_s=float(self.declare_parameter("idle_gap_s", 120.0).value),
                             turn_timeout_s=float(self.declare_parameter("turn_timeout_s", 60.0).value))
        try:
            self.store = make_store(store_path(folder), qdrant_url=qdrant_url(str(self.declare_parameter(
                "qdrant_url", "").value)))
        except StoreError as exc:  # refused with the way out: the node cannot record, and says so
            raise SystemExit(f"memory: {exc}") from exc
        # the cosine with an enrolled voice's centroid above which it is theirs (seal bench-voices measures it)
        voices = UserRegistry(self.store, threshold=float(self.declare_parameter("voice_threshold", 0.75).value))
        self.recorder = EpisodeRecorder(self.store, folder, users=voices, user=user, cfg=cfg,
                                        summariser=self.summary_model())
        self.skills = SkillLibrary(self.store)
        if bool(self.declare_parameter("embeddings", True).value):
            threading.Thread(target=self.warm_encoder, name="warm_encoder", daemon=True).start()
        subscription(self, topics.EVENTS, self.on_event)
        self.create_timer(1.0, self.tick)
        self.get_logger().info(f"memory ready: {store_path(folder)} (user: {self.recorder.user})")

    def summary_model(self) -> Summariser | None:
        """The language model that adds its own lines when an episode closes (rules always run)."""
        backend = str(self.declare_parameter("summary_backend", "").value)
        if not backend:
            return None
        try:
            self.summary_lm = make_model(
                backend, model_path=str(self.declare_parameter("summary_model_path", "").value),
                openai_url=str(self.declare_parameter("openai_url", "").value),
                openai_model=str(self.declare_parameter("openai_model", "default").value),
                script=str(self.declare_parameter("summary_script", "").value))
        except (ValueError, ModelError) as exc:
            self.report_error(f"memory: no model summaries ({exc}); the rules still write entries")
            return None
        return summariser(self.summary_lm) if self.summary_lm is not None else None

    def warm_encoder(self) -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WARM_NICENESS)
        except OSError:
            pass
        try:
            encoder = SentenceEncoder(threads=1)
            encoder.encode_many(["warm up"])
        except Exception as exc:  # noqa: BLE001 - the record goes on without embeddings
            self.report_error(f"memory: the sentence encoder cannot load, entries get BM25 only: {exc}")
            return
        self.recorder.encoder = encoder
        self.skills.encoder = encoder
        self.get_logger().info("memory: embeddings on")

    def on_event(self, msg: Event) -> None:
        if msg.source == self.get_name():
            return
        reason = event_bounds(msg)
        if reason:  # before the payload is parsed or anything recorded
            self.refuse(topics.EVENTS.name, reason)
            return
        try:
            event = msg_to_event(msg)
            if event.type == ev.FORGET:
                self.forget(event)
            elif event.type == ev.VOICE:
                self.identify(event)
            elif event.type == ev.SKILL_LEARNED:
                self.learn(event)
            elif event.type == ev.SKILL_OUTCOME:
                self.count(event)
            else:
                self.recorder.feed(event)
        except ValueError as exc:
            self.refuse(topics.EVENTS.name, f"memory: event {msg.type!r} from {msg.source!r} not recorded: {exc}")
        except Exception as exc:  # noqa: BLE001 - a full disk or a locked file must not stop the node
            self.report_error(f"memory: recording failed: {exc}", msg.trace_id, throttle_key="record")
        self.report_problems()

    def identify(self, event: ev.Event) -> None:
        """Whose voice a turn was: the record follows it, and the loop is told (user_identified)."""
        embedding = event.payload.get("embedding")
        if not isinstance(embedding, list) or not embedding or len(embedding) > MAX_EMBEDDING:
            raise ValueError(f"a voice event carries payload.embedding, a list of at most {MAX_EMBEDDING} numbers")
        user, how = self.recorder.voice(event.trace_id, np.asarray(embedding, dtype=np.float64), event.stamp_ns)
        scores = self.recorder.users.scores(np.asarray(embedding, dtype=np.float64))
        self.publish_event(ev.Event(ev.USER_IDENTIFIED, ev.now_ns(), text=user, trace_id=event.trace_id,
                                    payload={"user": user, "how": how, "score": round(scores.get(user, 0.0), 3)}))

    def learn(self, event: ev.Event) -> None:
        skill = Skill.from_dict(event.payload.get("skill"))  # ValueError says what is wrong with it
        saved = self.skills.save(replace(skill, episode=skill.episode or self.recorder.current_episode()))
        self.get_logger().info(f"memory: skill {saved.name} v{saved.version} saved ({saved.description})")

    def count(self, event: ev.Event) -> None:
        name, ok = event.payload.get("name"), event.payload.get("ok")
        if not isinstance(name, str) or not isinstance(ok, bool):
            raise ValueError("a skill_outcome event carries payload.name (a string) and payload.ok (a boolean)")
        try:
            skill = self.skills.record_outcome(name, ok)
        except KeyError as exc:
            raise ValueError(str(exc)) from exc
        self.get_logger().info(f"memory: skill {name} {'succeeded' if ok else 'failed'}, now {skill.status}")

    def forget(self, event: ev.Event) -> None:
        user = str(event.payload.get("user") or "").strip()
        if not user:
            raise ValueError("a forget event names its user in payload.user")
        files = self.recorder.forget(user)
        self.get_logger().info(f"memory: forgot {user} ({files} raw files deleted)")

    def tick(self) -> None:
        try:
            self.recorder.tick(ev.now_ns())
        except Exception as exc:  # noqa: BLE001
            self.report_error(f"memory: closing an episode failed: {exc}", throttle_key="record")
        self.report_problems()

    def report_problems(self) -> None:
        while self.recorder.problems:
            self.report_error(f"memory: {self.recorder.problems.popleft()}", throttle_key="problems")

    def close(self) -> None:
        self.recorder.close(timeout_s=5.0)
        self.store.close()
        if self.summary_lm is not None:
            self.summary_lm.close()


def main(args=None) -> None:
    run(MemoryNode)


if __name__ == "__main__":
    main()
