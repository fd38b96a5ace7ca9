"""The skills in the knowledge base: saved, found by what they do, trusted or retired by how they fare.

A skill is provisional until it has succeeded ``TRUSTED_AFTER`` times, and retired after
``RETIRED_AFTER`` failures in a row (a retired skill is no longer found; saving a new version
of it starts it afresh). It is found as the entries are: BM25 over its description and
parameters, and with an encoder MiniLM cosine too, fused by reciprocal rank.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, replace

from seal_nodes.core.memory.retrieval import QueryEncoder, bounded, fts_query, query_vector, rrf
from seal_nodes.core.memory.store import SkillRow, Store
from seal_nodes.core.skills.arm.model import KIND as ARM_KIND, ArmSkill
from seal_nodes.core.skills.model import Skill

TRUSTED_AFTER = 2
RETIRED_AFTER = 3
FOUND_STATUSES = ("provisional", "trusted")
AnySkill = Skill | ArmSkill  # a GUI skill, or an arm skill (tagged "kind": "arm" in its JSON)


@dataclass(frozen=True)
class SkillHit:
    skill: AnySkill
    score: float  # the fused reciprocal-rank score
    found_by: tuple[str, ...]  # "bm25", "vector"


def indexed_text(skill: AnySkill) -> str:
    """What retrieval matches a skill on: its description, then its parameters and examples."""
    params = ", ".join(f"{k} (e.g. {v})" for k, v in skill.params.items())
    return f"{skill.description} Parameters: {params}." if params else skill.description


class SkillLibrary:
    def __init__(self, store: Store, encoder: QueryEncoder | None = None, rrf_k: int = 60, depth: int = 50,
                 min_cosine: float = 0.2) -> None:
        """``encoder``: MiniLM (or any ``encode(text)``) for the vector side, None for BM25 only;
        ``rrf_k``, ``depth``, ``min_cosine`` as for ``Retriever``."""
        self.store = store
        self.encoder = encoder
        self.rrf_k = rrf_k
        self.depth = depth
        self.min_cosine = min_cosine
        self.last_problem = ""  # why the last search or save left the vector side out
        self._lock = threading.Lock()  # read-modify-write of one skill's counts

    def save(self, skill: AnySkill, now_ns: int | None = None) -> AnySkill:
        """Store ``skill``; one of the same name is replaced by it as the next version (its
        counts and status as ``skill`` has them). The skill as stored."""
        now = time.time_ns() if now_ns is None else now_ns
        with self._lock:
            old = self._row(skill.name)
            if old is not None:
                skill = replace(skill, version=load_skill(old.json).version + 1)
            embedding = None
            if self.encoder is not None:
                try:
                    embedding = query_vector(self.encoder, indexed_text(skill))
                except Exception as exc:  # noqa: BLE001 - the skill is still found by BM25
                    self.last_problem = f"skill {skill.name} not embedded: {exc}"
            self.store.put_skill(self._as_row(skill, old.created_ns if old else now, now), indexed_text(skill),
                                 embedding)
        return skill

    def get(self, name: str) -> AnySkill | None:
        row = self._row(name)
        return None if row is None else load_skill(row.json)

    def list(self) -> list[AnySkill]:
        """Every stored skill, retired ones too, by name."""
        return [load_skill(r.json) for r in self.store.skill_rows()]

    def find(self, query: str, k: int = 3) -> list[SkillHit]:
        """The ``k`` skills (not retired) that best match ``query``."""
        self.last_problem = ""
        k = bounded(k, 3)
        query = "" if query is None else str(query)
        if k == 0 or not query.strip():
            return []
        ranked = {"bm25": self._bm25(query), "vector": self._vector(query)}
        scores, found = rrf(ranked, self.rrf_k)
        rows = {r.name: r for r in self.store.skill_rows(list(scores))}
        order = sorted(rows, key=lambda n: (-scores[n], -rows[n].updated_ns, n))[:k]
        return [SkillHit(load_skill(rows[n].json), scores[n], found[n]) for n in order]

    def record_outcome(self, name: str, ok: bool, now_ns: int | None = None) -> AnySkill:
        """Count a replay of ``name``: its second success makes it trusted, its third failure in
        a row retires it. The skill as it now stands; KeyError when no skill has that name."""
        now = time.time_ns() if now_ns is None else now_ns
        with self._lock:
            row = self._row(name)
            if row is None:
                raise KeyError(f"no skill named {name!r}")
            skill = load_skill(row.json)
            if ok:
                skill = replace(skill, successes=skill.successes + 1, failing=0)
            else:
                skill = replace(skill, failures=skill.failures + 1, failing=skill.failing + 1)
            skill = replace(skill, status=_status(skill))
            self.store.update_skill(self._as_row(skill, row.created_ns, now))
        return skill

    # --- inside -----------------------------------------------------------------------------
    def _row(self, name: str) -> SkillRow | None:
        rows = self.store.skill_rows([name])
        return rows[0] if rows else None

    @staticmethod
    def _as_row(skill: AnySkill, created_ns: int, now_ns: int) -> SkillRow:
        return SkillRow(skill.name, json.dumps(skill.to_dict(), ensure_ascii=False), skill.description, skill.status,
                        skill.successes, skill.failures, created_ns, now_ns, skill.episode)

    def _bm25(self, query: str) -> list[str]:
        expression = fts_query(query)
        if not expression:
            return []
        try:
            return self.store.match_skills(expression, FOUND_STATUSES, self.depth)
        except sqlite3.Error as exc:
            self.last_problem = f"BM25 search failed: {exc}"
            return []

    def _vector(self, query: str) -> list[str]:
        if self.encoder is None:
            return []
        try:
            return self.store.nearest_skills(query_vector(self.encoder, query), FOUND_STATUSES, self.depth,
                                             self.min_cosine)
        except Exception as exc:  # noqa: BLE001 - any encoder failure degrades to BM25 only
            self.last_problem = f"vector search skipped: {exc}"
            return []


def load_skill(text: str) -> AnySkill:
    """A stored skill's JSON as the skill of its kind."""
    data = json.loads(text)
    if isinstance(data, dict) and data.get("kind") == ARM_KIND:
        return ArmSkill.from_dict(data)
    return Skill.from_dict(data)


def _status(skill: AnySkill) -> str:
    if skill.status == "retired" or skill.failing >= RETIRED_AFTER:
        return "retired"
    return "trusted" if skill.successes >= TRUSTED_AFTER else "provisional"
