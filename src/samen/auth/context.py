"""Who is asking, for whom and why: the context an access token is bound to.

The authorization server puts it in the token; the resource server rebuilds it from a validated
token and hands it to the policy. Nothing else about a request is trusted for a decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Professional:
    """The acting professional, from a signed (Dezi-like) attestation."""

    uzi: str  # UZI number, http://fhir.nl/fhir/NamingSystem/uzi-nr-pers
    role: str  # UZI role code (RoleCodeNL zorgverlenertype), e.g. "01.015" huisarts
    ura: str  # the organisation the professional acts for
    name: str = ""


@dataclass(frozen=True)
class AccessContext:
    """The validated context of one request.

    ``kind`` says which flow produced it: ``system`` (organisation to organisation, SMART Backend
    Services), ``patient`` (a citizen's own app, SMART App Launch) or ``open`` (a node started with
    ``--open`` for development; never on a non-loopback address).
    """

    kind: str
    scopes: frozenset[str]
    client_ura: str = ""  # the requesting organisation (system) or the app's client id (patient)
    client_type: str = ""  # organisation type code (RoleCodeNL zorgaanbiedertype) of the requester
    professional: Professional | None = None
    purpose: str = ""  # purpose of use (use case), e.g. "bgz", "eoverdracht-receiver"
    patient_bsn: str = ""  # the person the token is bound to; "" when not bound
    patient_ids: frozenset[str] = field(default_factory=frozenset)  # this node's Patient ids of that person
    token_id: str = ""  # jti of the access token (for audit)
    task: str = ""  # eOverdracht: the Task the token is bound to
    reason: str = ""  # break-the-glass (purpose acute-care): why the professional needs the record now

    @property
    def patient_bound(self) -> bool:
        return bool(self.patient_bsn or self.patient_ids)
