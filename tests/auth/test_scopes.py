"""SMART v2 scopes: what is accepted in a token request and what a scope permits."""

from __future__ import annotations

import pytest

from samen.auth.scopes import ResourceScope, ScopeError, parse_requested, parse_scope, permits

TYPES = {"Patient", "Observation", "Task"}


def test_a_resource_scope_is_context_type_and_permissions() -> None:
    assert parse_scope("system/Observation.rs") == ResourceScope("system", "Observation", "rs")
    assert parse_scope("patient/*.cruds") == ResourceScope("patient", "*", "cruds")
    assert parse_scope("launch/patient") is None and parse_scope("openid") is None


@pytest.mark.parametrize("scope", ["system/Patient.read", "system/Patient.*", "system/Patient.sr", "system/Patient.rr",
                                   "system/Patient.", "system/Patient.rs?code=x", "admin/Patient.rs", "Patient.rs",
                                   "system/Patient.rsx"])
def test_anything_but_an_exact_v2_scope_is_refused(scope: str) -> None:
    with pytest.raises(ScopeError):
        parse_scope(scope)


def test_a_request_needs_scopes_of_the_allowed_context_and_known_types() -> None:
    requested = parse_requested("system/Patient.rs  system/Task.cu", contexts=("system",), resource_types=TYPES)
    assert requested == frozenset({"system/Patient.rs", "system/Task.cu"})
    assert parse_requested("system/*.rs", contexts=("system",), resource_types=TYPES) == {"system/*.rs"}
    for text, problem in [("", "no scope"), ("patient/Patient.rs", "use system scopes"),
                          ("system/Encounter.rs", "unknown resource type")]:
        with pytest.raises(ScopeError, match=problem):
            parse_requested(text, contexts=("system",), resource_types=TYPES)


def test_permits_checks_type_and_permission() -> None:
    scopes = frozenset({"system/Patient.rs", "system/Task.cu", "openid"})
    assert permits(scopes, "Patient", "r") and permits(scopes, "Patient", "s") and permits(scopes, "Task", "u")
    assert not permits(scopes, "Patient", "u") and not permits(scopes, "Observation", "r")
    assert permits(frozenset({"system/*.rs"}), "Observation", "s")
    assert not permits(frozenset({"system/Patient.read"}), "Patient", "r")  # not understood: grants nothing
