"""``seal faults`` on the running graph: one quick fault, checked end to end."""
from __future__ import annotations

import pytest

from seal_nodes.bench.faults import KILL, Fault, FaultRun

pytestmark = pytest.mark.integration


def test_a_tts_killed_mid_sentence_is_respawned_alone_and_the_next_spoken_request_works(stack):
    """Beyond test_stack's TTS crash (the thinker gives the utterance up): the launcher respawns
    the TTS, no other node restarts, the user is told once the voice is back, and a spoken request
    is then carried out and answered aloud."""
    row = FaultRun(stack).run(Fault("tts", KILL, "sentence"))
    assert row["respawned"] and row["restarts"] == 1, row
    # What the respawned TTS said, whole (its agent_speech_end on /seal/events): the thinker's
    # account of the cut ("Sorry, my voice restarted. I was saying: …"; wording: test_restarts.py).
    assert any(said.startswith("Sorry, my voice restarted.") for said in row["told"]), row
    assert row["others_restarted"] == [], row
    assert row["arm_held"] and row["commands_outside_limits"] == 0, row
    assert row["next_request_ok"] and row["next_request_said"], row


def test_a_policy_killed_mid_grasp_is_respawned_alone_and_the_arm_holds(stack):
    """The launcher respawns the policy alone; the arm does not move while no policy drives it,
    and the next request works (the thinker gave up the pick the dead server owed)."""
    row = FaultRun(stack).run(Fault("vla_policy", KILL, "grasp"))
    assert row["respawned"] and row["others_restarted"] == [], row
    assert row["arm_held"] and row["commands_outside_limits"] == 0, row
    # What the user is told ("My arm controller restarted; …") depends on where the kill fell in
    # the pick; tests/unit/thinking/test_goals.py checks the give-up and the sentence exactly.
    assert row["next_request_ok"], row


def test_a_thinker_killed_mid_action_comes_back_cancels_its_goal_and_says_so(stack):
    """The respawned thinker reads the goal its predecessor journalled, cancels it on the arm's
    server and tells the user how the pick ended; the next request works."""
    row = FaultRun(stack).run(Fault("thinker", KILL, "action"))
    assert row["respawned"] and row["others_restarted"] == [], row
    assert row["arm_held"] and row["commands_outside_limits"] == 0, row
    # "I restarted; the pick of the … cube was interrupted. Ask me again to retry." — or "had
    # finished" if the pick ended before the cancel landed (the wording: test_restarts.py).
    assert any(said.startswith("I restarted; ") and "the pick of the" in said for said in row["told"]), row
    assert row["next_request_ok"], row


def test_a_sim_killed_mid_grasp_fails_the_pick_aloud_and_the_next_request_works(stack):
    """The policy hears no joint states from the dead sim and fails its goal without a hold (a
    restarted robot is not where the last state said); the thinker tells the user; the launcher
    respawns the sim alone, its world reset, and the next request is carried out."""
    row = FaultRun(stack).run(Fault("sim", KILL, "grasp"))
    assert row["respawned"] and row["others_restarted"] == [], row
    assert row["commands_outside_limits"] == 0, row
    assert any(said.startswith("Sorry, that didn't work") and "no joint states" in said for said in row["told"]), row
    assert row["next_request_ok"], row
