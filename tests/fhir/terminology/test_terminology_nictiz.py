"""The Nictiz zib2020 terminology (FHIR XML) in the terminology service: listed SNOMED CT concepts
are checked exactly, SNOMED CT rules are undecided with the reason, Nictiz code systems are complete."""

from __future__ import annotations

import pytest

from samen.fhir.outcome import FhirError
from samen.fhir.terminology import Terminology

SNOMED = "http://snomed.info/sct"
DECOR = "http://decor.nictiz.nl/fhir/ValueSet/"
LATERALITY = DECOR + "2.16.840.1.113883.2.4.3.11.60.40.2.12.20.2--20200901000000"  # two SNOMED concepts
SPECIMEN_PROCEDURE = DECOR + "2.16.840.1.113883.2.4.3.11.60.40.2.13.1.2--20200901000000"  # descendent-of 71388002
MICROORGANISM = DECOR + "2.16.840.1.113883.2.4.3.11.60.40.2.13.1.10--20200901000000"  # SNOMED refset member
BOWEL = DECOR + "2.16.840.1.113883.2.4.3.11.60.40.2.4.2.1--20200901000000"  # Barthel bowel codes (Nictiz system)
BARTHEL_BOWEL = "urn:oid:2.16.840.1.113883.2.4.3.11.60.40.4.1.1"
GCS_MOTOR = DECOR + "2.16.840.1.113883.2.4.3.11.60.121.11.5--20200901000000"  # imports three value sets
GCS_MOTOR_SYSTEM = "urn:oid:2.16.840.1.113883.2.4.3.11.60.40.4.2.2"
PRODUCT_GPK = DECOR + "2.16.840.1.113883.2.4.3.11.60.40.2.11.1.3--20200901000000"  # all of G-Standaard GPK
GPK = "urn:oid:2.16.840.1.113883.2.4.4.1"


def test_listed_snomed_concepts_are_checked_exactly(nictiz_terminology: Terminology) -> None:
    right = nictiz_terminology.validate_code(LATERALITY, SNOMED, "24028007", "rechts")
    assert right.valid is True and right.message == "" and right.display == "rechts"
    assert nictiz_terminology.validate_code(LATERALITY, SNOMED, "24028007", "Right").message == ""  # a designation
    outside = nictiz_terminology.validate_code(LATERALITY, SNOMED, "71388002")
    assert outside.valid is False and LATERALITY in outside.message
    expansion = nictiz_terminology.expand(LATERALITY)["expansion"]
    assert [(e["code"], e["display"]) for e in expansion["contains"]] == [("7771000", "links"), ("24028007", "rechts")]


def test_snomed_descendants_are_undecided_and_say_so(nictiz_terminology: Terminology) -> None:
    check = nictiz_terminology.validate_code(SPECIMEN_PROCEDURE, SNOMED, "71388002")
    assert check.valid is None
    assert "SNOMED CT (http://snomed.info/sct) is not available on this node" in check.message
    assert "'concept descendent-of 71388002'" in check.message
    assert "only the syntax of the code was checked" in check.message
    assert nictiz_terminology.validate_code(SPECIMEN_PROCEDURE, SNOMED, "71388003").valid is False
    with pytest.raises(FhirError) as raised:
        nictiz_terminology.expand(SPECIMEN_PROCEDURE)
    assert raised.value.status == 422 and "descendent-of 71388002" in raised.value.message


def test_snomed_reference_set_members_are_undecided(nictiz_terminology: Terminology) -> None:
    check = nictiz_terminology.validate_code(MICROORGANISM, SNOMED, "3092008")  # Staphylococcus aureus
    assert check.valid is None and "concept in 2581000146104" in check.message


def test_nictiz_code_systems_are_complete(nictiz_terminology: Terminology) -> None:
    assert nictiz_terminology.validate_code(BOWEL, BARTHEL_BOWEL, "FECAL1").valid is True
    assert nictiz_terminology.validate_code(BOWEL, BARTHEL_BOWEL, "FECAL9").valid is False
    assert nictiz_terminology.lookup(BARTHEL_BOWEL, "FECAL0").display == "Incontinent"


def test_a_value_set_of_value_sets(nictiz_terminology: Terminology) -> None:
    assert nictiz_terminology.validate_code(GCS_MOTOR, GCS_MOTOR_SYSTEM, "M6").valid is True
    assert nictiz_terminology.validate_code(GCS_MOTOR, GCS_MOTOR_SYSTEM, "M9").valid is False
    assert nictiz_terminology.expand(GCS_MOTOR)["expansion"]["total"] >= 6


def test_the_whole_g_standaard_is_checked_by_syntax(nictiz_terminology: Terminology) -> None:
    gpk = nictiz_terminology.validate_code(PRODUCT_GPK, GPK, "71587")
    assert gpk.valid is None and "G-Standaard GPK" in gpk.message and "modulus-11" in gpk.message
    wrong = nictiz_terminology.validate_code(PRODUCT_GPK, GPK, "71588")
    assert wrong.valid is False and "check digit" in wrong.message
    with pytest.raises(FhirError) as raised:
        nictiz_terminology.lookup(GPK, "71587")
    assert raised.value.status == 422 and "cannot be looked up" in raised.value.message


def test_every_nictiz_value_set_is_answered(nictiz_terminology: Terminology) -> None:
    """No Nictiz value set breaks the service: each is listed, or refused with a reason."""
    for value_set in nictiz_terminology.conformance.local_resources("ValueSet"):
        try:
            expansion = nictiz_terminology.expand(value_set["url"], count=1)
        except FhirError as refused:
            assert refused.status == 422 and "cannot be expanded" in refused.message
        else:
            assert expansion["expansion"]["total"] >= 0
