"""Every R4 resource type accepts a minimal valid instance, and an unknown property in it is refused."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import assert_issue, assert_valid
from minimal import MinimalInstances

from samen.fhir.conformance import Conformance
from samen.fhir.model import Model
from samen.fhir.terminology import Terminology
from samen.fhir.validation import Validator

# What the types' invariants ask beyond their required elements (the R4 rule named for each).
EXTRAS: dict[str, dict[str, Any]] = {
    "AllergyIntolerance": {"clinicalStatus": {"text": "active"}},  # ait-1
    "Appointment": {"participant": [{"status": "accepted", "type": [{"text": "x"}]}]},  # app-1
    "AppointmentResponse": {"actor": {"display": "x"}},  # apr-1
    "Bundle": {"identifier": {"system": "urn:ietf:rfc:3986", "value": "urn:uuid:6b1d7e1a-1c1f-4f0e-9a43-0c6b1c1d2e3f"},
               "timestamp": "2024-01-01T10:00:00Z"},  # bdl-9, bdl-10
    "CapabilityStatement": {"rest": [{"mode": "server"}], "implementation": {"description": "x"}},  # cpb-1, -2, -14
    "Consent": {"policyRule": {"text": "x"}},  # ppc-1
    "EventDefinition": {"trigger": [{"type": "named-event", "name": "x"}]},  # trd-3
    "ImmunizationRecommendation": {"recommendation": [{"forecastStatus": {"text": "x"}, "vaccineCode": [{"text": "x"}]}]},  # imr-1
    "InsurancePlan": {"name": "x"},  # ipn-1
    "Linkage": {"item": [{"type": "source", "resource": {"display": "x"}},
                         {"type": "alternate", "resource": {"display": "y"}}]},  # lnk-1
    "Organization": {"name": "x"},  # org-1
    "StructureDefinition": {"kind": "resource", "abstract": False, "type": "Basic", "derivation": "constraint",
                            "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Basic",
                            "differential": {"element": [{"id": "Basic", "path": "Basic"}]}},  # sdf-6, sdf-8a
    "TerminologyCapabilities": {"implementation": {"description": "x"}},  # tcp-2, tcp-3
}


@pytest.fixture(scope="module")
def instances(conformance: Conformance, terminology: Terminology) -> MinimalInstances:
    return MinimalInstances(conformance, terminology)


def _minimal(instances: MinimalInstances, resource_type: str) -> dict[str, Any]:
    return {**instances.resource(resource_type), **EXTRAS.get(resource_type, {})}


def test_there_are_146_resource_types(model: Model) -> None:
    assert len(model.resource_types) == 146


@pytest.mark.parametrize("resource_type", sorted(Model.load().resource_types))
def test_a_minimal_instance_is_valid(validator: Validator, instances: MinimalInstances, resource_type: str) -> None:
    resource = _minimal(instances, resource_type)
    assert_valid(validator.validate(resource))
    resource["unknownElement"] = "x"
    assert_issue(validator.validate(resource), "error", "structure", f"{resource_type}.unknownElement")
