"""The CapabilityStatement, generated from what the node really implements."""

from __future__ import annotations

from typing import Any

from samen import __version__
from samen.fhir.model import Model
from samen.fhir.primitives import ms_to_instant, now_ms
from samen.settings import Settings

INSTANCE_INTERACTIONS = ["read", "vread", "update", "patch", "delete", "history-instance"]
TYPE_INTERACTIONS = ["create", "search-type", "history-type"]
SYSTEM_INTERACTIONS = ["transaction", "batch", "search-system", "history-system"]
RESULT_PARAMETERS = ["_count", "_sort", "_include", "_revinclude", "_summary", "_elements", "_total"]
# The published definitions of the operations the node serves; others are named on the node itself.
OPERATION_DEFINITIONS = {
    "validate": "http://hl7.org/fhir/OperationDefinition/Resource-validate",
    "expand": "http://hl7.org/fhir/OperationDefinition/ValueSet-expand",
    "lookup": "http://hl7.org/fhir/OperationDefinition/CodeSystem-lookup",
    "validate-code": "http://hl7.org/fhir/OperationDefinition/ValueSet-validate-code",
    "export": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
}


def capability_statement(model: Model, settings: Settings, operation_names: set[str]) -> dict[str, Any]:
    operations = [
        {"name": name, "definition": OPERATION_DEFINITIONS.get(name, f"{settings.base_url}/OperationDefinition/{name}")}
        for name in sorted(operation_names)
    ]
    resources = []
    for res_type in sorted(model.resource_types):
        params = model.search_parameters(res_type)
        resources.append(
            {
                "type": res_type,
                "profile": f"http://hl7.org/fhir/StructureDefinition/{res_type}",
                "interaction": [{"code": code} for code in INSTANCE_INTERACTIONS + TYPE_INTERACTIONS],
                "versioning": "versioned-update",
                "readHistory": True,
                "updateCreate": True,
                "conditionalCreate": True,
                "conditionalRead": "not-supported",
                "conditionalUpdate": True,
                "conditionalDelete": "single",
                "referencePolicy": ["literal", "logical"],
                **_non_empty("searchInclude", sorted(f"{res_type}:{p.code}" for p in params.values() if p.type == "reference")),
                "searchParam": [
                    {"name": p.code, "definition": p.url, "type": p.type}
                    for p in sorted(params.values(), key=lambda p: p.code)
                    if p.type != "special" and p.expression  # _text, _content, _query: no index behind them
                ],
            }
        )
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": ms_to_instant(now_ms()),
        "publisher": "samen",
        "kind": "instance",
        "software": {"name": "samen", "version": __version__},
        "implementation": {"description": "samen FHIR node", "url": settings.base_url},
        "fhirVersion": model.fhir_version,
        "format": ["application/fhir+json", "application/fhir+xml"],
        "patchFormat": ["application/json-patch+json"],
        "rest": [
            {
                "mode": "server",
                "resource": resources,
                "interaction": [{"code": code} for code in SYSTEM_INTERACTIONS],
                "searchParam": [{"name": name, "type": "special"} for name in RESULT_PARAMETERS],
                "operation": operations,
            }
        ],
    }


def _non_empty(name: str, values: list[str]) -> dict[str, list[str]]:
    """FHIR has no empty arrays: leave a property out when it has no values."""
    return {name: values} if values else {}
