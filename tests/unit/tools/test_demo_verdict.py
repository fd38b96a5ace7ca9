"""`seal demo`'s verdict from the thinker's turn_done reports: a request that produced no action is
not a success; a greeting passes with an answer; a pick must have lifted its cube."""
from __future__ import annotations

import pytest

from seal_nodes.stack.demo import SCENARIO, verdicts

pytestmark = pytest.mark.unit


def report(heard, outcome, actions=(), success=(), understood=""):
    return {"heard": heard, "outcome": outcome, "actions": list(actions), "success": list(success),
            "understood": understood}


def test_the_built_in_scenario_passes_with_an_answer_and_a_lifted_cube():
    done = [report("Hello robot.", "answered"),
            report("Pick up the red cube.", "acted", ["pick(object=red_cube)"], [True], "pick up the red cube")]
    assert verdicts(SCENARIO, done, ["red_cube"]) == []
    assert verdicts(SCENARIO, done, []) == ["red_cube was picked but is not lifted (simulator)"]


@pytest.mark.parametrize("outcome", ["asked", "apologized", "refused"])
def test_a_recording_that_produced_no_action_or_answer_fails(outcome):
    reasons = verdicts([{"expect": "any"}], [report("could you ramp the blue cube", outcome,
                                                    understood="pick up the blue cube")], [])
    assert len(reasons) == 1 and f"the agent {outcome}" in reasons[0] and "pick up the blue cube" in reasons[0]


def test_a_greeting_only_recording_passes_with_an_answer():
    assert verdicts([{"expect": "any"}], [report("Hi there!", "answered")], []) == []


def test_a_request_step_answered_with_words_only_fails():
    reasons = verdicts(SCENARIO, [report("Hello robot.", "answered"), report("Pick up the red cube.", "answered")],
                       [])
    assert reasons == ["'Pick up the red cube.': the agent answered; expected an action"]


def test_failed_actions_fail_and_a_cube_moved_on_later_need_not_be_lifted():
    done = [report("grab the red one", "acted", ["pick(object=red_cube)"], [True]),
            report("now bin it", "acted", ["place(object=red_cube, target=bin)"], [False])]
    reasons = verdicts([{"expect": "any"}, {"expect": "any"}], done, [])
    assert reasons == ["'now bin it': not every action succeeded: ['place(object=red_cube, target=bin)'] [False]"]
