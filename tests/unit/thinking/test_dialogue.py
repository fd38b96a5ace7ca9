"""The grounded dialogue around the intent step: act and say so, ask back and take yes/no/a
correction, answer questions about itself from state, never leave a turn in silence whatever the
model does (stalls, parrots, repeats itself), and signal each finished turn (TurnDone)."""
from __future__ import annotations

import itertools

import pytest

from seal_nodes.core import events as ev
from seal_nodes.core.actions import Action
from seal_nodes.core.thinking import dialogue
from seal_nodes.core.thinking.commands import Act, CancelActions, Report, Say, TurnDone
from seal_nodes.core.thinking.dialogue import Done, State, speech_problem
from seal_nodes.core.thinking.intent import ACT, CONFIRM, UNSURE, IntentReader, Reading, Understanding
from seal_nodes.core.thinking.lm.scripted import ScriptedModel
from seal_nodes.core.thinking.thinker import Thinker, ThinkerConfig
from seal_nodes.tools.scenario import SimClock

pytestmark = pytest.mark.unit

OBJECTS = {"red_cube", "green_cube", "blue_cube"}
CAPABILITIES = ("I can pick up, push or point at the red, green or blue cube, put one in the bin, or go home. "
                "What would you like?")
_trace = itertools.count()


def pick(color: str) -> Action:
    return Action("pick", {"object": f"{color}_cube"})


def place(color: str) -> Action:
    return Action("place", {"object": f"{color}_cube", "target": "bin"})


def sure(text: str, *actions: Action, confidence: float = 0.95) -> Understanding:
    return Understanding(text, ACT, Reading(actions, confidence, "meaning", text))


def maybe(text: str, *actions: Action) -> Understanding:
    return Understanding(text, CONFIRM, Reading(actions, 0.6, "sound", text))


def unsure(text: str, kind: str = "none") -> Understanding:
    return Understanding(text, UNSURE, None, kind=kind)


class TableReader(IntentReader):
    """The real reader's yes/no; its readings fixed by a table (what a reader might say)."""

    def __init__(self, table: dict[str, Understanding]) -> None:
        super().__init__()  # the encoder is never loaded: read() below does not use it
        self.table = table
        self.texts: list[str] = []

    def read(self, text, objects, alternatives=(), executors=("arm", "system")) -> Understanding:
        self.texts.append(text)
        return self.table.get(text, unsure(text))


class World:
    """A thinker with a reader, maybe a scripted model, on a simulated clock."""

    def __init__(self, table=None, streams=None, reader=None, tokens_per_s: float = 50.0, **cfg) -> None:
        self.clock = SimClock()
        model = ScriptedModel(streams, tokens_per_s=tokens_per_s, clock_ns=self.clock) if streams is not None else None
        self.reader = reader or TableReader(table or {})
        cfg.setdefault("think_while_listening", False)
        self.th = Thinker(model, set(OBJECTS), clock_ns=self.clock, config=ThinkerConfig(**cfg), intent=self.reader)
        self.model = model

    def user(self, text: str) -> list:
        e = ev.Event(ev.SPEECH_END, self.clock(), text=text, trace_id=f"tr{next(_trace)}")
        self.trace = e.trace_id
        return self.settle(self.th.handle(e))

    def settle(self, cmds=(), max_s: float = 30.0) -> list:
        """Let simulated time run while the model generates (or a deadline is due)."""
        out = list(cmds)
        end = self.clock.t + int(max_s * 1e9)
        while self.clock.t < end:
            wake = self.th.next_wakeup_ns()
            if self.th.gen is None and wake is None:
                break
            self.clock.t = max(self.clock.t + 1_000_000, wake or 0)
            out += self.th.tick()
        return out

    def result(self, act: Act, success: bool = True, text: str = "done") -> list:
        e = ev.Event(ev.ACTION_RESULT, self.clock(), text=text, trace_id=act.trace_id,
                     payload={"goal_id": act.goal_id, "action": str(act.action), "success": success,
                              "canceled": False})
        return self.settle(self.th.handle(e))


def of(cmds, cls):
    return [c for c in cmds if isinstance(c, cls)]


def said(cmds) -> list[str]:
    return [c.text for c in of(cmds, Say) if not c.filler]


def done(cmds) -> TurnDone:
    (d,) = of(cmds, TurnDone)
    return d


# --- act, and say so ------------------------------------------------------------------------

def test_a_sure_reading_acts_first_then_says_so_and_the_turn_ends_with_the_result():
    w = World({"could you grab the blue cube": sure("could you grab the blue cube", pick("blue"))})
    cmds = w.user("could you grab the blue cube")
    assert [type(c) for c in cmds if isinstance(c, (Act, Say))] == [Act, Say]
    assert of(cmds, Act)[0].action == pick("blue")
    assert said(cmds) == ["Sure, picking up the blue cube."]
    assert not of(cmds, TurnDone)  # acted, but the result is not in yet
    d = done(w.result(of(cmds, Act)[0]))
    assert (d.outcome, d.actions, d.success, d.understood, d.trace_id) == (
        "acted", ["pick(object=blue_cube)"], [True], "pick up the blue cube", w.trace)


def test_a_greeting_in_front_of_a_request_is_returned():
    text = "Hi there, could you ramp the blue cube for me, please?"
    w = World({text: sure(text, pick("blue"))})
    assert said(w.user(text)) == ["Hi! Sure, picking up the blue cube."]


def test_a_compound_request_runs_its_actions_in_order_one_after_the_other():
    text = "put the two cubes that are not blue into the bin"
    w = World({text: sure(text, place("red"), place("green"))})
    cmds = w.user(text)
    assert [a.action for a in of(cmds, Act)] == [place("red")]
    assert said(cmds) == ["Okay: first the red cube, then the green cube, into the bin."]
    cmds = w.result(of(cmds, Act)[0])
    assert [a.action for a in of(cmds, Act)] == [place("green")] and not of(cmds, TurnDone)
    d = done(w.result(of(cmds, Act)[0]))
    assert d.outcome == "acted" and d.success == [True, True]
    assert d.understood == "put the red cube and the green cube in the bin"


@pytest.mark.parametrize("results_first", [False, True])
def test_a_sentence_completed_after_a_pause_does_not_repeat_the_action(results_first):
    # Perception ends the turn at "…the bin", then sends the whole sentence revising it.
    first, whole = "can the green block go in the bin", "can the green block go in the bin please"
    w = World({first: sure(first, place("green")), whole: sure(whole, place("green"))})
    act = of(w.user(first), Act)[0]
    first_trace = w.trace
    if results_first:
        assert done(w.result(act)).trace_id == first_trace
    e = ev.Event(ev.SPEECH_END, w.clock(), text=whole, trace_id="whole", payload={"revises": first_trace})
    cmds = w.settle(w.th.handle(e))
    assert not of(cmds, Act) and not said(cmds)  # not twice, and nothing new to say
    if not results_first:
        cmds = w.result(act)
    d = done(cmds)  # the request's turn_done carries the whole sentence's trace
    assert (d.trace_id, d.outcome, d.actions, d.success) == ("whole", "acted", ["place(object=green_cube, target=bin)"],
                                                             [True])


def test_a_clear_request_that_starts_with_the_object_is_not_taken_for_a_follow_up():
    point_red, text = "point at the red cube", "the blue cube, pick it up"
    w = World({point_red: sure(point_red, Action("point", {"object": "red_cube"})), text: sure(text, pick("blue"))})
    w.result(of(w.user(point_red), Act)[0])
    assert [a.action for a in of(w.user(text), Act)] == [pick("blue")]  # not "point at the blue cube"


def test_a_failed_step_ends_a_compound_request():
    text = "put the red and the green cube in the bin"
    w = World({text: sure(text, place("red"), place("green"))})
    first = of(w.user(text), Act)[0]
    cmds = w.result(first, success=False, text="the cube slipped")
    assert not of(cmds, Act)
    assert done(cmds).success == [False, False]
    assert any("didn't work" in s for s in said(cmds))


def test_a_request_naming_an_object_not_seen_is_refused_whole():
    text = "put the red and the purple cube in the bin"
    w = World({text: sure(text, place("red"), place("purple"))})
    cmds = w.user(text)
    assert not of(cmds, Act)
    assert said(cmds) == ["Sorry, I can't do that. I don't see purple cube here."]
    assert done(cmds).outcome == "refused"


def test_stop_cancels_and_drops_the_rest_of_a_compound_request():
    text = "put the red and the green cube in the bin"
    w = World({text: sure(text, place("red"), place("green")), "stop": sure("stop", Action("stop"))})
    first = of(w.user(text), Act)[0]
    cmds = w.user("stop")
    assert of(cmds, CancelActions)
    assert (done(cmds).outcome, done(cmds).actions, done(cmds).success) == ("acted", ["stop()"], [True])
    e = ev.Event(ev.ACTION_RESULT, w.clock(), text="canceled", trace_id=first.trace_id,
                 payload={"goal_id": first.goal_id, "action": str(first.action), "success": False, "canceled": True})
    cmds = w.th.handle(e)
    assert not of(cmds, Act) and done(cmds).success == [False, False]


# --- ask back, take the answer --------------------------------------------------------------

def test_unsure_which_asks_one_question_and_yes_does_it():
    text = "could you ramp the blue cube"
    w = World({text: maybe(text, pick("blue"))})
    cmds = w.user(text)
    assert not of(cmds, Act)
    assert said(cmds) == ["Do you want me to pick up the blue cube?"]
    assert done(cmds).outcome == "asked" and done(cmds).understood == "pick up the blue cube"
    cmds = w.user("yes please")
    assert [a.action for a in of(cmds, Act)] == [pick("blue")]
    assert said(cmds) == ["Sure, picking up the blue cube."]
    d = done(w.result(of(cmds, Act)[0]))
    assert d.outcome == "acted" and d.success == [True]
    # "why?" quotes the request the yes confirmed
    assert "could you ramp the blue cube" in said(w.user("why did you do that?"))[0]


def test_no_declines_and_a_correction_is_done_instead():
    text = "could you ramp the blue cube"
    w = World({text: maybe(text, pick("blue"))})
    w.user(text)
    cmds = w.user("no")
    assert said(cmds) == [dialogue.WONT] and not of(cmds, Act)
    assert done(cmds).outcome == "answered"
    w.user(text)
    cmds = w.user("no, the red one")
    assert [a.action for a in of(cmds, Act)] == [pick("red")]


def test_the_other_object_named_after_a_question_back_gets_the_request_asked_about():
    text = "bin the blue cube"
    w = World({text: maybe(text, place("blue")), "then the red one, please": sure("then", pick("red"))})
    w.user(text)
    cmds = w.user("then the red one, please")  # the reading alone would pick it up
    assert [a.action for a in of(cmds, Act)] == [place("red")]
    assert said(cmds) == ["Okay, putting the red cube in the bin."]


def test_an_object_the_agent_does_not_see_is_not_swapped_for_one_it_does():
    text = "put the purple cube in the bin"
    w = World({text: maybe(text, place("blue"))})
    cmds = w.user(text)
    assert said(cmds) == ["I don't see the purple cube here."] and done(cmds).outcome == "refused"


def test_anything_else_after_a_question_back_is_a_new_turn():
    text = "could you ramp the blue cube"
    w = World({text: maybe(text, pick("blue"))})
    w.user(text)
    cmds = w.user("what do you see?")
    assert said(cmds)[0].startswith("I see 3 cubes on the table")
    assert not of(w.user("yes"), Act)  # the question back was dropped


def test_a_compound_request_in_the_middle_band_is_confirmed_aloud_first():
    text = "the two that are not blue in the bin"
    w = World({text: maybe(text, place("red"), place("green"))})
    assert said(w.user(text)) == ["Do you want me to put the red cube and the green cube in the bin?"]
    cmds = w.user("yes")
    assert [a.action for a in of(cmds, Act)] == [place("red")]


def test_low_confidence_says_what_the_agent_can_do():
    w = World()
    cmds = w.user("frobnicate the thing")
    assert said(cmds) == [CAPABILITIES]
    assert done(cmds).outcome == "apologized"
    assert said(w.user("...")) == ["Sorry, I didn't catch that."]


def test_unknown_questions_without_a_model_get_an_honest_answer():
    text = "what is the capital of peru?"
    w = World({text: unsure(text, "question")})
    assert said(w.user(text)) == [dialogue.DONT_KNOW]


def test_small_talk_is_answered_by_the_rules():
    cmds = World().user("Hello robot, how are you doing today?")
    assert said(cmds)[0].startswith("Hello!") and done(cmds).outcome == "answered"


# --- questions about itself, from state -----------------------------------------------------

def test_questions_about_itself_are_answered_from_state_not_from_the_reading():
    # a reader that misreads the question as a command must not make the agent act
    w = World({"why did you do that?": sure("why did you do that?", Action("stop")),
               "what's your name?": sure("what's your name?", Action("home")),
               "grab the blue cube": sure("grab the blue cube", pick("blue"))})
    cmds = w.user("why did you do that?")
    assert said(cmds) == ["I haven't done anything yet."] and not of(cmds, CancelActions)
    assert said(w.user("Hi there, what's your name?")) == [
        "I'm SEAL, a robot with an arm over this table. What can I do for you?"]
    assert said(w.user("What can you do?")) == [CAPABILITIES]
    assert said(w.user("what are you doing?")) == ["Nothing right now. I'm listening."]
    act = of(w.user("grab the blue cube"), Act)[0]
    assert said(w.user("What are you doing?")) == ["I'm picking up the blue cube."]
    w.result(act, success=False, text="the gripper missed it")
    assert said(w.user("what did you just do?")) == [
        "I tried to pick up the blue cube, but it failed: the gripper missed it."]
    assert said(w.user("Why did you do that?")) == [
        'Because you asked me: "grab the blue cube". I tried to pick up the blue cube, but it failed: '
        'the gripper missed it.']


def test_where_things_are_comes_from_vision():
    w = World()
    w.th.handle(ev.Event(ev.OBJECT_SEEN, w.clock(), text="red_cube",
                         payload={"name": "red_cube", "position": [0.45, 0.12, 0.02]}))
    assert said(w.user("Where is the red cube?")) == ["The red cube is on my left, close to me."]


def test_state_answers_in_words():
    state = State(set(OBJECTS), {}, ("arm", "system"))
    assert dialogue.state_answer("How's the weather?", state) == ""
    state.log.append(Done(pick("red"), "pick up the red cube", "succeeded"))
    assert dialogue.state_answer("What did you do?", state) == "I picked up the red cube."
    state.queued.append(place("green"))
    state.log.append(Done(place("red"), "bin them all"))
    assert dialogue.state_answer("what are you doing", state) == (
        "I'm putting the red cube in the bin. Then I'll put the green cube in the bin.")
    gui = State(set(), {}, ("gui", "system"))
    assert dialogue.state_answer("who are you?", gui).startswith("I'm SEAL, an assistant that works this computer")
    assert dialogue.state_answer("what do you see", State(set(), {}, ("arm",))) == (
        "I don't see anything on the table yet.")


# --- never a filler followed by silence -----------------------------------------------------

def test_a_stalling_model_is_cut_at_the_answer_budget_and_the_grounded_step_answers():
    stall = "<think>" + " hmm" * 400 + "</think><assistant>Too late.</assistant>"
    w = World(streams=[stall], tokens_per_s=20.0, answer_budget_s=3.0, fast_path=False)
    cmds = w.user("what will the weather be like at the coast this weekend")
    says = of(cmds, Say)
    assert says[0].filler  # time was bought first …
    assert [s.text for s in says[1:]] == [CAPABILITIES]  # … and then a real answer, not silence
    reports = [r.text for r in of(cmds, Report)]
    assert any("within 3 s" in r for r in reports)
    assert w.th.gen is None and done(cmds).outcome == "apologized"
    assert "Too late." not in " ".join(s.text for s in says)


def test_the_budget_is_bounded():
    with pytest.raises(ValueError, match="answer_budget_s"):
        ThinkerConfig(answer_budget_s=0.0)
    with pytest.raises(ValueError, match="answer_budget_s"):
        ThinkerConfig(answer_budget_s=600.0)


def test_a_model_that_parrots_the_system_prompt_is_not_spoken():
    w = World(streams=["<assistant>You are SEAL, a friendly robot with an arm over a table.</assistant>"],
              fast_path=False)
    text = "tell me a story"
    cmds = w.user(text)
    assert "You are SEAL" not in " ".join(said(cmds))
    assert said(cmds)[-1] == CAPABILITIES
    rejected = [r for r in of(cmds, Report) if "rejected" in r.text]
    assert rejected and rejected[0].payload["reason"] == "it parrots the system prompt"
    assert "text" not in rejected[0].payload  # the clause goes as "clause", beside the event's own text


def test_a_model_that_parrots_the_user_is_not_spoken():
    text = "could you tell me about the weather in paris today"
    w = World({text: unsure(text, "question")},
              streams=["<assistant>Could you tell me about the weather in Paris today?</assistant>"], fast_path=False)
    cmds = w.user(text)
    assert said(cmds) == [dialogue.DONT_KNOW]
    assert any(r.payload.get("reason") == "it parrots the user's words" for r in of(cmds, Report))


def test_a_model_that_babbles_off_protocol_is_not_spoken():
    w = World(streams=["<assistant>pick(object=red_cube) is what I would do.</assistant>"], fast_path=False)
    cmds = w.user("sing me something")
    assert said(cmds) == [CAPABILITIES]
    assert any(r.payload.get("reason") == "off-protocol text in speech" for r in of(cmds, Report))


def test_a_model_that_repeats_its_last_line_is_not_spoken_again():
    line = "<assistant>Hi there, I can pick up the cubes on the table for you.</assistant>"
    w = World(streams=[line, line], fast_path=False)
    first = w.user("hmm, interesting")
    assert said(first) == ["Hi there, I can pick up the cubes on the table for you."]
    assert done(first).outcome == "answered"
    cmds = w.user("and what else is there")
    assert said(cmds) == [CAPABILITIES]
    assert any(r.payload.get("reason") == "it repeats what the agent just said" for r in of(cmds, Report))


def test_a_model_looping_on_its_own_words_is_cut():
    line = "I can pick up the cubes on the table for you."
    w = World(streams=[f"<assistant>{line}</assistant><assistant>{line}</assistant><assistant>{line}</assistant>"],
              fast_path=False)
    cmds = w.user("what a nice day")
    assert said(cmds) == [line] and w.th.gen is None
    assert done(cmds).outcome == "answered"


def test_a_model_that_only_thinks_gets_the_grounded_answer_not_an_apology():
    w = World(streams=["<think>I have nothing to say.</think>"], fast_path=False)
    cmds = w.user("blah blah")
    assert said(cmds) == [CAPABILITIES]


def test_an_unsure_turn_goes_to_the_model_and_its_answer_ends_the_turn():
    w = World(streams=["<think>Chat.</think><assistant>I like cubes too.</assistant>"])
    cmds = w.user("I really like cubes, you know")
    assert said(cmds) == ["I like cubes too."]
    assert w.model.prompts and done(cmds).outcome == "answered"


def test_sure_requests_never_reach_the_model():
    text = "could you grab the blue cube"
    w = World({text: sure(text, pick("blue"))}, streams=["<assistant>never</assistant>"])
    w.user(text)
    assert not w.model.prompts


# --- understanding off: the old path exactly -----------------------------------------------

def test_with_understanding_off_the_reader_is_not_used():
    text = "could you ramp the blue cube"
    w = World({text: sure(text, pick("blue"))}, understanding=False)
    cmds = w.user(text)
    assert not w.reader.texts and not of(cmds, Act)
    assert said(cmds) == ["Sorry, I didn't understand. You can ask me to pick up, push or point at a cube."]
    assert done(cmds).outcome == "apologized"


# --- the check, the vocabulary, the event ---------------------------------------------------

def test_the_check_passes_ordinary_answers():
    kw = {"user_text": "put the red cube in the bin", "system": "You are SEAL, a friendly robot.",
          "last_said": ["Hello! What should I do?"]}
    assert speech_problem("Okay, putting the red cube in the bin.", **kw) == ""
    assert speech_problem("[THINKING] Let me think.", **kw) == ""
    assert speech_problem("Put the red cube in the bin.", **kw) == "it parrots the user's words"
    assert speech_problem("<user>hi</user>", **kw) == "off-protocol text in speech"
    assert speech_problem("User: what now", **kw) == "off-protocol text in speech"
    assert speech_problem("Hello! What should I do?", **kw) == "it repeats what the agent just said"
    # copied in pieces: "Hi there," in front of the agent's own introduction
    intro = "I'm SEAL, a robot with an arm over this table. What can I do for you?"
    assert speech_problem("Hi there, I'm a robot with an arm over this table. What can I do for you?",
                          **{**kw, "last_said": ["Done.", intro]}) == "it repeats what the agent just said"


def test_bias_words_are_the_action_and_object_vocabulary():
    words = dialogue.bias_words(set(OBJECTS), ("arm", "system"))
    assert {"red cube", "green cube", "blue cube", "bin", "pick up", "push", "point at", "go home", "stop"} <= set(words)
    assert dialogue.bias_words(set(OBJECTS), ("gui", "system")) == ["click", "type", "read", "show you how", "that's it",
                                                                   "stop"]


def test_turn_done_is_a_known_event_with_its_payload():
    e = TurnDone("tr1", "acted", ["pick(object=red_cube)"], [True], "pick up the red cube").event(5)
    assert e.type == ev.TURN_DONE and e.type in ev.KNOWN_TYPES and e.trace_id == "tr1"
    assert e.payload == {"outcome": "acted", "actions": ["pick(object=red_cube)"], "success": [True],
                         "understood": "pick up the red cube"}


# --- with the real reader ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def reader() -> IntentReader:
    return IntentReader()


def test_the_real_reader_reads_an_everyday_request(reader):
    w = World(reader=reader)
    cmds = w.user("Hi there, could you grab the blue cube for me, please?")
    if not of(cmds, Act):  # asked back first
        assert said(cmds) == ["Hi! Do you want me to pick up the blue cube?"]
        cmds = w.user("yes")
    assert [a.action for a in of(cmds, Act)] == [pick("blue")]


def test_the_real_reader_resolves_a_compound_request(reader):
    w = World(reader=reader)
    cmds = w.user("Could you put the two cubes that are not blue into the bin?")
    if not of(cmds, Act):
        assert said(cmds)[0].startswith("Do you want me to put the")
        cmds = w.user("yes")
    first = of(cmds, Act)[0]
    second = of(w.result(first), Act)[0]
    assert {first.action.args["object"], second.action.args["object"]} == {"red_cube", "green_cube"}
    assert {first.action.name, second.action.name} == {"place"}


# --- what the words leave out is asked for, and the reply fills it ---------------------------

def push(color: str, direction: str) -> Action:
    return Action("push", {"object": f"{color}_cube", "direction": direction})


def seen(w: World) -> World:
    """The table as vision reports it: red on the robot's left and closest, green far right."""
    for name, pos in (("red_cube", [0.42, 0.15, 0.02]), ("blue_cube", [0.50, 0.0, 0.02]),
                      ("green_cube", [0.58, -0.13, 0.02])):
        w.th.handle(ev.Event(ev.OBJECT_SEEN, w.clock(), text=name, payload={"name": name, "position": pos}))
    return w


def test_a_request_without_its_object_asks_which_and_the_reply_names_it(reader):
    w = World(reader=reader)
    cmds = w.user("Grab a block for me.")
    assert said(cmds) == ["Which cube should I pick up: the red, green or blue one?"] and not of(cmds, Act)
    assert done(cmds).outcome == "asked"
    cmds = w.user("The green one.")
    assert [a.action for a in of(cmds, Act)] == [pick("green")]


def test_a_push_without_its_direction_asks_which_way(reader):
    w = World(reader=reader)
    assert said(w.user("Push the red cube.")) == ["Which way should I push the red cube, left or right?"]
    assert [a.action for a in of(w.user("To the left, please."), Act)] == [push("red", "left")]


def test_a_reply_with_a_new_verb_corrects_the_guess_asked_about(reader):
    text = "Move the green cube a bit."
    w = World({text: maybe(text, pick("green"))}, reader=None)
    w.reader.table[text] = maybe(text, pick("green"))
    assert said(w.user(text)) == ["Do you want me to pick up the green cube?"]
    assert [a.action for a in of(w.user("Push it to the right."), Act)] == [push("green", "right")]


def test_a_plain_no_is_a_no_whatever_the_reader_makes_of_it():
    text = "could you ramp the blue cube"
    w = World({text: maybe(text, pick("blue")), "No.": maybe("No.", Action("stop"))})
    w.user(text)
    cmds = w.user("No.")
    assert said(cmds) == [dialogue.WONT] and not of(cmds, Act) and not of(cmds, CancelActions)


def test_a_slot_is_asked_for_at_most_twice(reader):
    w = World(reader=reader)
    assert said(w.user("Grab a block for me."))[0].startswith("Which cube")
    cmds = w.user("Hmm, I'm not sure.")
    assert not said(cmds)[0].startswith("Which cube") or not of(cmds, Act)
    assert w.th.pending is None or w.th.pending.asks <= 2


def test_words_that_name_every_slot_are_asked_about_when_meaning_is_unsure(reader):
    w = World(reader=reader)
    cmds = w.user("Would you bump the red one a bit to the left?")
    assert said(cmds) == ["Do you want me to push the red cube left?"]
    assert said(w.user("No.")) == [dialogue.WONT]


def test_a_negated_request_is_never_carried_out(reader):
    w = World(reader=reader)
    for text in ("Don't pick up the red cube.", "Never put the green block in the bin.",
                 "Please do not push the blue cube to the left."):
        assert not of(w.user(text), Act)


def test_a_request_of_several_steps_runs_them_in_order(reader):
    w = World(reader=reader)
    cmds = w.user("Pick up the red cube, then go back home.")
    first = of(cmds, Act)[0]
    assert first.action == pick("red")
    assert [a.action for a in of(w.result(first), Act)] == [Action("home")]


def test_a_step_without_its_verb_borrows_the_one_before(reader):
    w = World(reader=reader)
    first = of(w.user("Bin the blue cube and then the red one."), Act)[0]
    assert first.action == place("blue")
    assert [a.action for a in of(w.result(first), Act)] == [place("red")]


def test_small_talk_and_questions_about_itself_get_an_answer_not_the_capability_list(reader):
    w = World(reader=reader)
    for text, start in (("Who built you?", "I'm SEAL"), ("Are you listening to me?", "Yes, I'm listening"),
                        ("Nice to meet you.", "Nice to meet you too"),
                        ("What sort of jobs can you help me with?", "I can pick up")):
        cmds = w.user(text)
        assert said(cmds)[0].startswith(start) and done(cmds).outcome == "answered" and not of(cmds, Act)


def test_where_questions_are_answered_from_vision(reader):
    w = seen(World(reader=reader))
    assert said(w.user("Which cube is closest to you?")) == ["The red cube. It's on my left, close to me."]
    assert said(w.user("Which of the blocks is on your right?")) == ["The green cube. It's on my right, far from me."]
    assert said(w.user("Is there a yellow cube on the table?")) == [
        "No, I don't see a yellow cube. I see the blue cube, the green cube and the red cube."]
    assert said(w.user("What is the red cube next to?")) == ["The red cube is next to the blue cube."]
    assert said(w.user("Is the blue cube on your left?")) == ["The blue cube is in the middle."]


def test_the_object_between_two_named_ones_is_resolved(reader):
    w = seen(World(reader=reader))
    cmds = w.user("Point at the cube between the red one and the green one.")
    if not of(cmds, Act):
        cmds = w.user("yes")
    assert [a.action for a in of(cmds, Act)] == [Action("point", {"object": "blue_cube"})]


def test_a_reader_put_in_front_later_takes_the_next_turn(reader):
    """A node warms the reader in the background; turns before it get the fast path."""
    w = World(reader=reader)
    w.th.use_intent(None)
    cmds = w.user("Grab a block for me.")
    assert not said(cmds)[0].startswith("Which cube")  # the fast path: no slots, no question for them
    w.th.use_intent(reader)
    assert said(w.user("Grab a block for me.")) == ["Which cube should I pick up: the red, green or blue one?"]


# --- the recogniser reciting its prompt -------------------------------------------------------

SCENE = dialogue.scene_words(OBJECTS)


@pytest.mark.parametrize("heard, kept", [
    ("bin, green cube, and push to the left.", "Push to the left."),  # the list in front of the request
    ("Red cube, blue cube, put them in the bin.", "Put them in the bin."),
    ("blue and green cube, a bin.", ""),  # nothing but the list
])
def test_a_leading_list_of_scene_words_is_the_prompt_recited(heard, kept):
    assert dialogue.strip_recital(heard, SCENE) == (kept, True)


@pytest.mark.parametrize("heard", [
    "The red cube.",  # one clause: a reply
    "Pick up the red cube, green cube, blue cube, bin.",  # a request that lists objects after its verb
    "Put the red, the green and the blue cube in the bin.",
    "Red cube, push it left.",  # one list clause, then the request
])
def test_speech_that_names_objects_is_not_a_recital(heard):
    assert dialogue.strip_recital(heard, SCENE) == (heard, False)


def test_a_recited_prompt_is_not_acted_on_and_the_agent_says_it_did_not_catch_it():
    reader = TableReader({})
    w = World(reader=reader)
    cmds = w.user("blue and green cube, a bin.")
    assert not of(cmds, Act) and said(cmds) == ["Sorry, I didn't catch that."]
    assert done(cmds).outcome == "apologized" and reader.texts == []  # never read as a request


def test_the_request_after_a_recited_prompt_is_read_alone():
    w = World({"Push to the left.": unsure("Push to the left.", kind="command")})
    w.user("bin, green cube, and push to the left.")
    assert w.reader.texts == ["Push to the left."]


def test_a_bare_list_answering_a_question_back_is_an_answer_not_a_recital():
    w = World({"grab one": maybe("grab one", pick("red"))})
    w.user("grab one")
    w.user("red cube, blue cube.")
    assert w.reader.texts[-1] == "red cube, blue cube."
