"""The access matrix: every role against every action, on a case of their own (worked on or shared with them)
and on someone else's, written out in full so that a change to the rules shows up here."""

from __future__ import annotations

import pytest

from server.cases.policy import Action, Relation, allowed, visible, withheld_from_export
from server.models import Role

A = Action
CLINICAL_ALL = {A.SUMMARY, A.READ, A.READ_NOTES, A.WRITE_NOTE, A.ASSESS_RISK, A.RECORD_OUTCOME, A.SAFETY_STEP}
CLINICAL_ALL |= {A.SHARE, A.FLAG, A.SUGGESTIONS, A.MERGE}
EXPECTED: dict[tuple[Role, str], set[Action]] = {
    (Role.OPERATOR, "worker"): CLINICAL_ALL,
    (Role.OPERATOR, "other"): set(),
    (Role.SUPERVISOR, "worker"): CLINICAL_ALL | {A.REVIEW_QUEUE, A.REVIEW_DECIDE},
    (Role.SUPERVISOR, "other"): CLINICAL_ALL | {A.REVIEW_QUEUE, A.REVIEW_DECIDE},  # the service's policy: all cases
    (Role.COORDINATOR, "worker"): {A.SUMMARY, A.FLAG, A.REVIEW_QUEUE, A.AUDIT, A.STATISTICS, A.DIRECTORY}
    | {A.EXPORT, A.ANONYMISE},
    (Role.COORDINATOR, "other"): {A.SUMMARY, A.FLAG, A.REVIEW_QUEUE, A.AUDIT, A.STATISTICS, A.DIRECTORY}
    | {A.EXPORT, A.ANONYMISE},
    (Role.SWITCHBOARD, "worker"): {A.SUMMARY},
    (Role.SWITCHBOARD, "other"): {A.SUMMARY},
}


@pytest.mark.parametrize(("role", "relation"), list(EXPECTED), ids=lambda x: str(x))
@pytest.mark.parametrize("action", list(Action), ids=lambda a: a.value)
def test_every_role_and_action(role: Role, relation: str, action: Action) -> None:
    assert allowed(role, action, relation) is (action in EXPECTED[(role, relation)])  # type: ignore[arg-type]


def test_supervisors_see_only_shared_cases_when_the_policy_says_so() -> None:
    assert not allowed(Role.SUPERVISOR, Action.READ_NOTES, "other", supervisors_see_all=False)
    assert allowed(Role.SUPERVISOR, Action.READ_NOTES, "worker", supervisors_see_all=False)
    assert allowed(Role.SUPERVISOR, Action.REVIEW_DECIDE, "other", supervisors_see_all=False)  # not about one case
    assert not visible(Role.SUPERVISOR, "other", supervisors_see_all=False)


def test_switchboard_never_reads_notes_or_risk() -> None:
    relations: tuple[Relation, ...] = ("worker", "other")
    for relation in relations:
        for action in (Action.READ, Action.READ_NOTES, Action.ASSESS_RISK, Action.WRITE_NOTE):
            assert not allowed(Role.SWITCHBOARD, action, relation)


def test_who_knows_a_case_exists() -> None:
    assert not visible(Role.OPERATOR, "other")  # a refusal is then a 404, not a 403
    assert visible(Role.OPERATOR, "worker")
    assert visible(Role.SWITCHBOARD, "other")


def test_merging_needs_merge_on_both_cases() -> None:
    """An operator has MERGE on their own case only; so merging their case with someone else's needs a
    supervisor (every case) or the other case shared with them."""
    assert allowed(Role.OPERATOR, Action.MERGE, "worker") and not allowed(Role.OPERATOR, Action.MERGE, "other")
    assert allowed(Role.SUPERVISOR, Action.MERGE, "other")
    assert not allowed(Role.SUPERVISOR, Action.MERGE, "other", supervisors_see_all=False)
    for role in (Role.COORDINATOR, Role.SWITCHBOARD):
        relations: tuple[Relation, ...] = ("worker", "other")
        for relation in relations:
            assert not allowed(role, Action.MERGE, relation)
            assert not allowed(role, Action.SUGGESTIONS, relation)


@pytest.mark.parametrize(
    ("role", "withheld"),
    [
        (Role.COORDINATOR, ["reason", "risk_assessments", "safety_steps", "outcomes", "notes"]),
        (Role.SWITCHBOARD, ["reason", "risk_assessments", "safety_steps", "outcomes", "notes"]),
        (Role.OPERATOR, ["reason", "risk_assessments", "safety_steps", "outcomes", "notes"]),  # not their case
        (Role.SUPERVISOR, []),
    ],
    ids=str,
)
def test_an_export_withholds_what_the_exporters_role_may_not_see(role: Role, withheld: list[str]) -> None:
    """Only coordinators export (EXPORT); whatever the role, the export follows the same rules as the case page."""
    assert withheld_from_export(role, "other") == withheld
    assert allowed(role, Action.EXPORT, "other") is (role == Role.COORDINATOR)


def test_the_coordinators_export_holds_no_note_text_or_risk_even_on_a_case_of_theirs() -> None:
    assert {"notes", "risk_assessments"} <= set(withheld_from_export(Role.COORDINATOR, "worker"))
