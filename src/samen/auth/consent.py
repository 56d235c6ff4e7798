"""The closed consent question a data holder asks before it releases a patient's data, and its answer.

"May holder H (category) release data category D of person P to requester R (category) for purpose U?"
The enforcement (:mod:`samen.auth.enforcement`) asks it on every request a rule marks as needing
consent, after the (cached) policy decision, so that a withdrawn consent counts from the next request
on; :mod:`samen.consent.holder` answers it by asking the consent registry. Both are values, so an
answer can be cached by its question.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ConsentQuestion:
    """The closed question; an empty category means the catalogue has none for it (the answer is deny)."""

    patient_bsn: str
    holder_ura: str
    holder_category: str
    data_category: str
    requester_ura: str
    requester_category: str
    purpose: str


@dataclass(frozen=True)
class ConsentAnswer:
    """``rule`` says what decided (safe to show); ``consent`` the registry's Consent behind it, when it named one."""

    permit: bool
    rule: str
    data_category: str = ""
    consent: str = ""  # a reference, e.g. "Consent/123"
    registry: str = ""  # the FHIR base of the registry that answered; "" when none was asked


class ConsentCheck(Protocol):
    """Answers the closed question; never raises (what cannot be answered is a deny)."""

    def answer(self, question: ConsentQuestion) -> ConsentAnswer: ...


class NoConsentRegistry:
    """A node without ``--consent-registry`` does not check consent: development only (the node warns at start)."""

    def answer(self, question: ConsentQuestion) -> ConsentAnswer:
        return ConsentAnswer(True, "no consent registry configured", question.data_category)


def combined(answers: list[ConsentAnswer]) -> ConsentAnswer:
    """One permit for a request that touched several data categories (for its audit record)."""
    if len(answers) == 1:
        return answers[0]
    return ConsentAnswer(
        all(answer.permit for answer in answers),
        "; ".join(f"{answer.data_category}: {answer.rule}" for answer in answers),
        ",".join(answer.data_category for answer in answers),
        ",".join(answer.consent for answer in answers if answer.consent),
        ",".join(sorted({answer.registry for answer in answers if answer.registry})),
    )
