"""What the thinker takes from the knowledge base: who is talking, what it remembers about them,
and the model's own searches (the ``recall`` action).

At a turn's start: a name said ("I'm Ana") makes them the current user, and an introduction alone
is answered with their name ("Welcome back, Ana!"); their stated preferences and facts (a quick
SQL lookup) and, once it is in, the hybrid search over their words go into the model's system
prompt, dated. Words that only memory can resolve are resolved before anything reads the turn:
"my favourite cube" becomes the cube they said they like, "the usual" their most frequent
request. "Forget what I told you" is carried out by the memory node (a ``forget`` event).
Searches never hold the loop: they run on the reader's thread and land when they land.
"""
from __future__ import annotations

import re

from seal_nodes.core import events as ev
from seal_nodes.core.actions import MEMORY, Action, object_phrase
from seal_nodes.core.memory import summaries
from seal_nodes.core.memory.episodes import ANONYMOUS
from seal_nodes.core.memory.reader import Acquaintance, MemoryReader
from seal_nodes.core.memory.users import GUEST_PREFIX, name_from_text, split_introduction
from seal_nodes.core.thinking.commands import Command, Publish, Report
from seal_nodes.core.thinking.context import HINT, OBSERVE, SAY, THINK, Segment
from seal_nodes.core.thinking.fast_path import GREETING, Trigger, parse_command
from seal_nodes.core.thinking.goals import Notice
from seal_nodes.core.thinking.lm.base import FREE
from seal_nodes.core.thinking.turn import Turn

MEMORY_PROMPT_CHARS = 700  # what memory may add to the system prompt
RECALLED = "recalled"  # the trigger kind of a finished recall: the model continues with it

# "my favourite cube", "the one I like best", "the cube I told you about": the object they said they like
_FAVOURITE = re.compile(r"\b(?:my (?:favou?rite|preferred) (?:cube|block|one)|"
                        r"the (?:cube|block|one) i (?:like|love|prefer|told you about|mentioned|said i like)"
                        r"(?: best| most)?)\b")
# "the usual", "same as always", "what I usually ask for": a whole request that is their habit
_USUAL = re.compile(r"^(?:(?:hi|hello|hey|ok|okay)[ ,]*)?(?:(?:can|could|would) you )?(?:(?:please|just) )?"
                    r"(?:do |get |have )?(?:(?:the|my) usual(?: thing| one| request)?|(?:the )?same as (?:always|usual|"
                    r"before|last time)|what i (?:usually|always|normally) (?:ask for|ask|want|have|get)|as usual)"
                    r"(?:,? please)?(?: again)?[.!?]*$")
_WHERE_I_LIKE = re.compile(r"\b(?:where|wherever) i (?:like|want|prefer|usually (?:put|want|keep))(?: (?:it|them))?"
                           r"(?: best)?\b")
_FORGET = re.compile(r"\bforget (?:what i (?:told|said to|taught) you|everything (?:about me|i (?:told|said)[^.?!]*)|"
                     r"(?:all )?about me|me|my (?:data|preferences))\b")
_INTRO = re.compile(r"\b(?:my name is|my name's|call me|i'm|i am|this is|it's me,?)\s+(?P<name>[a-z][a-z'-]+)")
_LEFTOVER = re.compile(r"\b(?:hi|hello|hey|there|again|back|here|robot|it's|its|me|good (?:morning|afternoon|"
                       r"evening)|remember me|do you remember me|you remember me)\b|[^a-z ]")
_NEGATIVE = re.compile(r"\b(?:does not|doesn't|hates?|dislikes?)\b")


class Remembering:
    """Mixed into ``Thinker``. Relies on its state (``memory``, ``user``, ``met``, ``profile``,
    ``recalled``, ``recalls``, ``turn``, ``executors``, ``known_objects``, ``known_targets``, ``gen``,
    ``user_talking``, ``deferred``, ``_ids``, ``_t0``) and its steps (``_emit``, ``_append``,
    ``_start``, ``_stop_generation``)."""

    memory: MemoryReader | None
    user: str | None
    profile_shown: str = ""  # the profile last published on /seal/thoughts

    def use_memory(self, reader: MemoryReader | None) -> None:
        """Read from the knowledge base (None: remember nothing); ``recall`` is declared only with one."""
        self.memory = reader
        others = tuple(e for e in self.executors if e != MEMORY)
        self.executors = others + (MEMORY,) if reader is not None else others

    # --- a turn begins ------------------------------------------------------------------------
    def _recollect(self, turn: Turn) -> list[Command]:
        """Who is talking, what memory says about them; their words resolved where only memory can."""
        name = name_from_text(turn.user_text)
        if name is not None and name != self.user:
            self.user = name
            self.met = None
        if name is not None:
            turn.introduced = name
        if self.memory is None:
            return []
        user = self.user or ANONYMOUS
        out: list[Command] = []
        try:
            if name is not None and (self.met is None or self.met.name != name):
                self.met = self.memory.acquaintance(name, before_ns=self._t0)
            self.profile = [f"- {e.date}: {e.text}" for e in self.memory.profile(user)]
            out += self._resolve_personal(turn, user)
        except Exception as exc:  # noqa: BLE001 - a broken memory file must not take the turn down
            return [Report(f"memory lookup failed: {exc}", turn.trace_id)]
        self.recalled = ""
        if not self.memory.search_for_turn(turn.trace_id, user, turn.user_text):
            out.append(Report("memory search skipped: too many searches queued", turn.trace_id))
        shown = f"Remembered about {user}:\n" + "\n".join(self.profile)
        if self.profile and shown != self.profile_shown:  # shown when it changes, not every turn
            out.append(Publish(Segment(HINT, shown, trace_id=turn.trace_id)))
        self.profile_shown = shown
        return out

    def _resolve_personal(self, turn: Turn, user: str) -> list[Command]:
        """"my favourite cube" → "the blue cube"; "the usual" → "pick up the blue cube"."""
        low = turn.user_text.lower()
        if _USUAL.match(low.strip()):
            usual = self.memory.usual(user) if self.memory is not None else ""
            if usual:
                return self._resolved(turn, usual, f"{user}'s usual request is to {usual}.")
            return []
        out: list[Command] = []
        where = _WHERE_I_LIKE.search(low)
        place = self._liked(self.known_targets) if where is not None else None
        if where is not None and place is not None:
            low = low[:where.start()] + f"in the {place}" + low[where.end():]
            out += self._resolved(turn, low, f"{user} likes things put in the {place}, as they told me.")
        m = _FAVOURITE.search(low)
        if m is None or re.match(r"\s+(?:is|are|was)\b", low[m.end():]):
            return out  # none, or the sentence says which it is
        liked = self._liked(self.known_objects)
        if liked is None:
            return out
        phrase = object_phrase(liked)
        return out + self._resolved(turn, low[:m.start()] + phrase + low[m.end():],
                                    f"{user} likes {phrase} best, as they told me.")

    def _resolved(self, turn: Turn, text: str, why: str) -> list[Command]:
        turn.user_text = text
        return [self._append(Segment(THINK, f"{why} So: {text!r}.", trace_id=turn.trace_id))]

    def _liked(self, names: set[str]) -> str | None:
        """The one of ``names`` the user's newest positive preference names (an object by its
        distinguishing word: ``blue`` for ``blue_cube``; a target by its name)."""
        words = {name: [w for w in name.split("_")[:-1] if w] or [name] for name in names}
        for line in self.profile:
            low = line.lower()
            if "favourite" not in low and "favorite" not in low and not re.search(r"\b(?:likes|loves|prefers)\b", low):
                continue
            if _NEGATIVE.search(low):
                continue
            named = [n for n, ws in words.items() if ws and all(re.search(rf"\b{re.escape(w)}\b", low) for w in ws)]
            if len(named) == 1:
                return named[0]
        return None

    def _on_user_identified(self, event: ev.Event) -> list[Command]:
        """The memory node knows who spoke (their voice): the next turns are theirs."""
        user = str(event.payload.get("user") or "").strip()
        if not user or user == self.user:
            return []
        self.user, self.profile_shown = user, ""
        self.met = None
        if self.memory is not None and not user.startswith(GUEST_PREFIX):
            try:
                self.met = self.memory.acquaintance(user, before_ns=self._t0)
            except Exception as exc:  # noqa: BLE001 - a broken memory file must not stop the loop
                return [Report(f"memory lookup failed: {exc}", event.trace_id)]
        who = f"a voice I don't know ({user})" if user.startswith(GUEST_PREFIX) else user
        return [self._append(Segment(THINK, f"By their voice, this is {who}.", trace_id=event.trace_id))]

    # --- answered from memory -----------------------------------------------------------------
    def _meeting(self, turn: Turn) -> list[Command]:
        """An introduction with nothing else ("Hi, I'm Ana"): greeted by name, welcomed back."""
        if not turn.introduced:
            return []
        rest = _INTRO.sub(" ", turn.user_text.lower())
        if _LEFTOVER.sub(" ", rest).split():
            return []  # a request or a question comes with the name: answered as such, greeted by name
        met = self.met if self.met is not None and self.met.name == turn.introduced else None
        turn.outcome = "answered"
        return self._emit(Segment(SAY, welcome(turn.introduced, met), trace_id=turn.trace_id))

    def _noted(self, turn: Turn) -> list[Command]:
        """Only a preference or a fact about themselves ("My favourite cube is the blue one."), maybe
        with a greeting or their name: acknowledged in their words, for the memory node to keep
        (without a memory, nothing is promised)."""
        if self.memory is None:
            return []
        user = turn.introduced or self.user or ""
        notes: list[str] = []
        for sentence in filter(None, (s.strip() for s in re.split(r"[.!?;]+", split_introduction(turn.user_text)))):
            said = summaries.Turn("", user or ANONYMOUS, 0, sentence)
            found = [n.text for n in summaries.preferences(said, "") + summaries.facts(said, "")]
            if parse_command(sentence) is not None or \
                    (not found and _LEFTOVER.sub(" ", _INTRO.sub(" ", sentence.lower())).split()):
                return []  # a sentence that asks ("I'd rather you put it in the bin") or tells something else
            notes += found
        if not notes:
            return []
        turn.outcome = "answered"
        met = self.met if self.met is not None and self.met.name == turn.introduced else None
        opening = hello(turn.introduced, met) if turn.introduced else "Got it."
        if not user:
            return self._emit(Segment(SAY, f"{opening} I'll remember that.", trace_id=turn.trace_id))
        return self._emit(Segment(SAY, f"{opening} I'll remember that {second_person(notes[0], user)}.",
                                  trace_id=turn.trace_id))

    def _forget_request(self, turn: Turn) -> list[Command]:
        """"Forget what I told you": gone from the store and the files (the memory node does it)."""
        if not _FORGET.search(turn.user_text.lower()):
            return []
        turn.outcome = "answered"
        if self.user is None:
            return self._emit(Segment(SAY, "I don't know who you are yet, so I have nothing of yours to forget. "
                                           "What's your name?", trace_id=turn.trace_id))
        user, self.profile, self.recalled, self.met = self.user, [], "", None
        notice = Notice(ev.Event(ev.FORGET, ev.now_ns(), text=f"forget {user}", trace_id=turn.trace_id,
                                 payload={"user": user}), feed=False, publish=True)
        return [notice] + self._emit(Segment(SAY, f"Done, {user}. I've forgotten what you told me.",
                                             trace_id=turn.trace_id))

    def _greeting_for(self, turn: Turn) -> str:
        """What a reply opens with when the user greeted: their name if they gave it."""
        if turn.introduced:
            met = self.met if self.met is not None and self.met.name == turn.introduced else None
            return hello(turn.introduced, met) if met is not None and met.returning else f"Hi {turn.introduced}!"
        return "Hi!" if GREETING.search(turn.user_text.lower()) else ""

    # --- the model's view ---------------------------------------------------------------------
    def _memory_prompt(self) -> str:
        """The lines memory adds to the system prompt: who this is and what is remembered, dated."""
        if self.user is None and not self.profile and not self.recalled:
            return ""
        lines = []
        if self.user is not None:
            known = self.met is not None and self.met.name == self.user and self.met.returning
            lines.append(f"You are talking with {self.user}" + (" (you have met before)." if known else "."))
        seen = set()
        remembered = []
        for line in [*self.profile, *self.recalled.splitlines()]:
            if line and line not in seen:
                seen.add(line)
                remembered.append(line)
        if remembered:
            lines.append("What you remember (dated):")
            lines += remembered
        text = "\n".join(lines)
        return text[:MEMORY_PROMPT_CHARS].rsplit("\n", 1)[0] if len(text) > MEMORY_PROMPT_CHARS else text

    # --- searches landing ---------------------------------------------------------------------
    def _recall(self, seg: Segment, action: Action, owner: Turn | None) -> list[Command]:
        """The model searches its memory: the generation pauses until the observation is in."""
        goal_id = f"g{next(self._ids)}"
        out = self._stop_generation(interrupted=False)
        out.append(self._append(seg))
        query = action.args["query"]
        if self.memory is None or not self.memory.recall(goal_id, self.user or ANONYMOUS, query):
            why = "no memory here" if self.memory is None else "memory is busy"
            return out + self._recalled(goal_id, seg, owner, f"nothing found ({why})")
        self.recalls[goal_id] = (seg, owner)
        if owner is not None:
            owner.running.add(goal_id)
        return out

    def _memory_tick(self) -> list[Command]:
        if self.memory is None or not self.memory.busy():
            return []
        out: list[Command] = []
        for found in self.memory.poll():
            if found.error:
                out.append(Report(found.error, found.key))
            if found.key in self.recalls:
                seg, owner = self.recalls.pop(found.key)
                if owner is not None:
                    owner.running.discard(found.key)
                out += self._recalled(found.key, seg, owner, found.text() or "nothing remembered about that")
            elif self.turn is not None and found.key == self.turn.trace_id and found.hits:
                self.recalled = found.text()
                out.append(Publish(Segment(HINT, "Remembered for this turn:\n" + self.recalled,
                                           trace_id=found.key)))
        return out

    def _recalled(self, goal_id: str, seg: Segment, owner: Turn | None, text: str) -> list[Command]:
        """The search's answer goes into the context as an ``<observation>``; the model goes on."""
        observed = Segment(OBSERVE, f"{seg.text}: {text}", trace_id=seg.trace_id)
        result = ev.Event(ev.ACTION_RESULT, ev.now_ns(), text=text, trace_id=seg.trace_id,
                          payload={"goal_id": goal_id, "action": seg.text, "success": True})
        out: list[Command] = [self._append(observed), Notice(result, feed=False, publish=True)]
        trigger = Trigger(RECALLED, text)
        if self.gen is not None or self.user_talking:
            self.deferred.append((trigger, seg.trace_id))
        elif owner is None or not owner.done:
            out += self._start(FREE, seg.trace_id)
        return out


_YOU = {"prefers": "prefer", "likes": "like", "loves": "love", "hates": "hate", "does": "do", "always": "always",
        "would": "would", "wants": "want", "is": "are", "lives": "live", "works": "work"}


def second_person(note: str, user: str) -> str:
    """"Ana's favourite cube is the blue one" → "your favourite cube is the blue one"."""
    if note.startswith(f"{user}'s "):
        return "your " + note[len(user) + 3:]
    head, _, rest = note[len(user) + 1:].partition(" ") if note.startswith(f"{user} ") else ("", "", "")
    if head in _YOU:
        words = rest.split(" ")
        if head in ("always", "does") and words and words[0] in _YOU:  # "always wants", "does not like"
            words[0] = _YOU[words[0]]
        return " ".join(["you", _YOU[head], *words]).replace(" their ", " your ")
    return note


def hello(name: str, met: Acquaintance | None) -> str:
    """How someone who just said their name is greeted: met before or not."""
    return f"Welcome back, {name}!" if met is not None and met.returning else f"Nice to meet you, {name}!"


def welcome(name: str, met: Acquaintance | None) -> str:
    """The whole reply to an introduction alone."""
    if met is None or not met.returning:
        return f"{hello(name, met)} What can I do for you?"
    last = f" Last time you asked me to {met.last_request}." if met.last_request else ""
    return f"{hello(name, met)}{last} What can I do for you today?"
