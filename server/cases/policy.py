"""Who may do what with case data: the one place the access rules live (role x action x relation to the case).

A staff member's relation to a case is ``worker`` (held a session of it, or it was shared with them) or
``other``. The rules:

- operators: everything clinical on their own cases (read, notes, risk, outcome, safety steps, sharing, flagging,
  the case's suggestions of a possible duplicate); nothing on others' cases;
- supervisors: as operators on every case when the service's policy says so (``supervisors_see_all_cases``),
  else on the cases shared with them; they also hold the team review (the queue and its decisions);
- coordinators: the case list without clinical content (no notes, no risk), the team review queue, the audit log,
  the statistics, the directory of local services, and a citizen's export and anonymisation;
- switchboard staff: never notes or risk; the case's summary only for booking a follow-up.

Merging two cases (``MERGE``) must be allowed on *both* (:mod:`server.cases.merging`): whoever merges sees both
citizens' records and lets the workers of each into the other, so an operator who has only one of them cannot;
a supervisor who sees every case can, and so can an operator once the other case is shared with them.

A citizen's export (``EXPORT``, the coordinator's) holds only what the exporter may see of each case
(:func:`withheld_from_export`): for a coordinator, no notes, no risk, no clinical record.

A refused action on a case one may not even know about is answered as not found (404), not as forbidden, so that
ids cannot be probed; the caller logs the refusal (:func:`server.cases.records.refused`).
"""

from __future__ import annotations

import enum
from typing import Literal

from server.models import Role

Relation = Literal["worker", "other"]


class Action(enum.StrEnum):
    SUMMARY = "summary"  # case code, status, channel, service: enough to book a follow-up
    READ = "read"  # the case with its risk, outcomes and safety steps
    READ_NOTES = "read_notes"
    WRITE_NOTE = "write_note"
    ASSESS_RISK = "assess_risk"
    RECORD_OUTCOME = "record_outcome"
    SAFETY_STEP = "safety_step"
    SHARE = "share"
    FLAG = "flag"
    SUGGESTIONS = "suggestions"  # see a case's possible duplicates (by code) and dismiss them
    MERGE = "merge"  # merge a possible duplicate into the case: needed on both cases
    REVIEW_QUEUE = "review_queue"  # the list of cases awaiting team review (codes only)
    REVIEW_DECIDE = "review_decide"
    AUDIT = "audit"  # the audit log, and a citizen's accesses
    STATISTICS = "statistics"
    DIRECTORY = "directory"  # the local services referrals go to
    EXPORT = "export"  # a citizen's data as JSON
    ANONYMISE = "anonymise"


CLINICAL = frozenset(
    {
        Action.SUMMARY,
        Action.READ,
        Action.READ_NOTES,
        Action.WRITE_NOTE,
        Action.ASSESS_RISK,
        Action.RECORD_OUTCOME,
        Action.SAFETY_STEP,
        Action.SHARE,
        Action.FLAG,
        Action.SUGGESTIONS,
        Action.MERGE,
    }
)
SERVICE_WIDE = {  # actions not about one case, by role
    Role.SUPERVISOR: frozenset({Action.REVIEW_QUEUE, Action.REVIEW_DECIDE}),
    Role.COORDINATOR: frozenset(
        {
            Action.REVIEW_QUEUE,
            Action.AUDIT,
            Action.STATISTICS,
            Action.DIRECTORY,
            Action.EXPORT,
            Action.ANONYMISE,
        }
    ),
}
COORDINATOR_ON_CASES = frozenset({Action.SUMMARY, Action.FLAG})


def allowed(role: Role, action: Action, relation: Relation, *, supervisors_see_all: bool = True) -> bool:
    """May someone of ``role`` do ``action`` on a case they are ``relation`` to (or at all, for service-wide
    actions)?"""
    if action in SERVICE_WIDE.get(role, frozenset()):
        return True
    if action not in CLINICAL:
        return False
    if role == Role.OPERATOR:
        return relation == "worker"
    if role == Role.SUPERVISOR:
        return relation == "worker" or supervisors_see_all
    if role == Role.COORDINATOR:
        return action in COORDINATOR_ON_CASES
    if role == Role.SWITCHBOARD:
        return action == Action.SUMMARY
    return False


def visible(role: Role, relation: Relation, *, supervisors_see_all: bool = True) -> bool:
    """Whether the case exists for this person at all (else a refusal is a 404)."""
    return allowed(role, Action.SUMMARY, relation, supervisors_see_all=supervisors_see_all)


# What a citizen's export holds of a case only for someone who may do the action on it (else it is withheld).
EXPORT_SECTIONS = {
    "reason": Action.READ,
    "risk_assessments": Action.READ,
    "safety_steps": Action.READ,
    "outcomes": Action.READ,
    "notes": Action.READ_NOTES,
}


def withheld_from_export(role: Role, relation: Relation, *, supervisors_see_all: bool = True) -> list[str]:
    """The sections of a case left out of a citizen's export made by someone of ``role`` (in EXPORT_SECTIONS'
    order)."""
    return [
        section
        for section, action in EXPORT_SECTIONS.items()
        if not allowed(role, action, relation, supervisors_see_all=supervisors_see_all)
    ]
