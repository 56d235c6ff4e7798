"""The FHIR terminology operations of a node, answered by :class:`~samen.fhir.terminology.Terminology`.

- ``CodeSystem/$lookup``: system, code (or coding), version, property -> Parameters (name, version,
  display, designation, property).
- ``CodeSystem/$validate-code``: url, code (or coding, codeableConcept), display -> Parameters.
- ``ValueSet/$validate-code`` and ``ValueSet/[id]/$validate-code``: url (+ valueSetVersion) or an
  inline valueSet, code + system, coding or codeableConcept, display, abstract -> Parameters
  (result, message, display, and the R5-style ``issues`` when there is something to say).
- ``ValueSet/$expand`` and ``ValueSet/[id]/$expand``: url (+ valueSetVersion) or valueSet, filter,
  count, offset -> the ValueSet with its expansion.

Each accepts GET with query parameters and POST with a Parameters resource (query parameters may be
added to a POST). ``[id]`` is a ValueSet of the node's conformance registry (core or packages).
``result`` is false both when a code is not valid and when the node cannot decide (SNOMED CT
descendants, say); the message says which, and ``issues`` carries a warning with the code
``not-supported`` for the second case. Specification: http://hl7.org/fhir/R4/terminology-service.html.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from samen.api.messages import FhirRequest, FhirResponse
from samen.api.router import Router
from samen.fhir.outcome import FhirError, Issue, bad_request, not_found, operation_outcome
from samen.fhir.terminology import CodeResult, Lookup, Terminology
from samen.fhir.terminology.service import Coding
from samen.store.store import Session

Operation = Callable[[Session, FhirRequest], FhirResponse]
_WHOLE_NUMBER = re.compile(r"[0-9]+")
_LARGEST_INTEGER = 2**31 - 1


def register(router: Router, terminology: Terminology) -> None:
    """Serve the terminology operations on ``router`` (read-only, GET and POST)."""
    operations = TerminologyOperations(terminology)
    routes: dict[str, Operation] = {
        "CodeSystem/$lookup": operations.lookup,
        "CodeSystem/$validate-code": operations.validate_in_code_system,
        "ValueSet/$validate-code": operations.validate_code,
        "ValueSet/{id}/$validate-code": operations.validate_code,
        "ValueSet/$expand": operations.expand,
        "ValueSet/{id}/$expand": operations.expand,
    }
    for pattern, operation in routes.items():
        for method in ("GET", "POST"):
            router.register_operation(method, pattern, operation, writes=False)


class TerminologyOperations:
    def __init__(self, terminology: Terminology) -> None:
        self.terminology = terminology

    def lookup(self, session: Session, request: FhirRequest) -> FhirResponse:
        params = OperationInput(request)
        coding = params.coding("coding") or {}
        system, code = params.text("system") or coding.get("system"), params.text("code") or coding.get("code")
        if not system or not code:
            raise bad_request("$lookup needs 'system' and 'code', or a 'coding'")
        found = self.terminology.lookup(system, code, params.text("version"))
        return FhirResponse(200, body=_lookup_parameters(found, set(params.texts("property"))))

    def validate_in_code_system(self, session: Session, request: FhirRequest) -> FhirResponse:
        params = OperationInput(request)
        system = params.text("url")
        if not system:
            raise bad_request("CodeSystem/$validate-code needs the code system's 'url'")
        result = self.terminology.validate_in_code_system(system, _codings(params, system))
        return FhirResponse(200, body=_validation_parameters(result))

    def validate_code(self, session: Session, request: FhirRequest) -> FhirResponse:
        params = OperationInput(request)
        value_set = self._value_set(request, params)
        result = self.terminology.validate_codings(
            value_set, _codings(params, params.text("system")), abstract=params.boolean("abstract") or False
        )
        return FhirResponse(200, body=_validation_parameters(result))

    def expand(self, session: Session, request: FhirRequest) -> FhirResponse:
        params = OperationInput(request)
        expansion = self.terminology.expand(
            self._value_set(request, params),
            filter=params.text("filter"),
            count=params.integer("count"),
            offset=params.integer("offset"),
        )
        return FhirResponse(200, body=expansion)

    def _value_set(self, request: FhirRequest, params: OperationInput) -> str | dict[str, Any]:
        """The value set the call is about: ``[id]`` in the path, ``url`` (+ version), or ``valueSet``."""
        segments = request.segments
        if len(segments) == 3:
            found = self.terminology.value_set_by_id(segments[1])
            if found is None:
                raise not_found(f"ValueSet/{segments[1]} is not known to this node")
            return f"{found['url']}|{found['version']}" if found.get("version") else found["url"]
        url, inline = params.text("url"), params.resource("valueSet")
        if (url is None) == (inline is None):
            raise bad_request("Give the value set as either 'url' or 'valueSet' (or call ValueSet/[id]/...)")
        if inline is not None:
            if inline.get("resourceType") != "ValueSet":
                raise bad_request("The parameter 'valueSet' must hold a ValueSet")
            if _has_regex_filter(inline):
                raise FhirError(422, "A regex filter is evaluated only in the value sets of the node's registry, not "
                                "in one sent with the request: a regular expression can take unbounded time",
                                "not-supported")
            return inline
        version = params.text("valueSetVersion")
        canonical = f"{url}|{version}" if version else str(url)
        if self.terminology.value_set(canonical) is None:
            raise not_found(f"The value set {canonical} is not known to this node")
        return canonical


class OperationInput:
    """The parameters of one call: the query string, and for POST the Parameters resource too."""

    def __init__(self, request: FhirRequest) -> None:
        self._values: dict[str, list[Any]] = {}
        for name, value in request.params:
            self._values.setdefault(name, []).append(value)
        if request.method == "POST" and request.body is not None:
            body = request.body
            if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
                raise bad_request("A POST to a terminology operation takes a Parameters resource")
            for parameter in body.get("parameter") or []:
                name = parameter.get("name") if isinstance(parameter, dict) else None
                if not isinstance(name, str):
                    raise bad_request("Every parameter needs a name")
                value = next((v for k, v in parameter.items() if k.startswith("value")), None)
                self._values.setdefault(name, []).append(parameter.get("resource", value))

    def _one(self, name: str) -> Any:
        values = self._values.get(name, [])
        if len(values) > 1:
            raise bad_request(f"The parameter '{name}' may be given only once")
        return values[0] if values else None

    def text(self, name: str) -> str | None:
        value = self._one(name)
        if value is not None and not isinstance(value, str):
            raise bad_request(f"The parameter '{name}' must be a string")
        return value or None

    def texts(self, name: str) -> list[str]:
        return [value for value in self._values.get(name, []) if isinstance(value, str)]

    def integer(self, name: str) -> int | None:
        """A FHIR integer of 0 or more (32-bit, written in ASCII digits in a query string)."""
        value = self._one(name)
        if isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value):
            value = int(value)
        if value is None or (type(value) is int and 0 <= value <= _LARGEST_INTEGER):
            return value
        raise bad_request(f"The parameter '{name}' must be a whole number from 0 to {_LARGEST_INTEGER}")

    def boolean(self, name: str) -> bool | None:
        value = self._one(name)
        if value in ("true", "false"):
            return value == "true"
        if value is None or isinstance(value, bool):
            return value
        raise bad_request(f"The parameter '{name}' must be true or false")

    def coding(self, name: str) -> dict[str, Any] | None:
        """A Coding; in a query string written ``system|code``."""
        value = self._one(name)
        if isinstance(value, str):
            system, bar, code = value.partition("|")
            value = {"system": system, "code": code} if bar else {"code": value}
        if value is not None and not (isinstance(value, dict) and isinstance(value.get("code"), str)):
            raise bad_request(f"The parameter '{name}' must be a Coding with a code")
        return value

    def resource(self, name: str) -> dict[str, Any] | None:
        value = self._one(name)
        if value is not None and not isinstance(value, dict):
            raise bad_request(f"The parameter '{name}' must be a resource (send it in a POST)")
        return value


def _has_regex_filter(value_set: dict[str, Any]) -> bool:
    compose = value_set.get("compose")
    parts = [*(compose.get("include") or []), *(compose.get("exclude") or [])] if isinstance(compose, dict) else []
    filters = [f for part in parts if isinstance(part, dict) and isinstance(part.get("filter"), list)
               for f in part["filter"]]
    return any(isinstance(f, dict) and f.get("op") == "regex" for f in filters)


def _codings(params: OperationInput, system: str | None) -> list[Coding]:
    """The codes to check: ``code`` (+ ``system``, ``display``), a ``coding`` or a ``codeableConcept``."""
    code, coding, concept = params.text("code"), params.coding("coding"), params.resource("codeableConcept")
    if sum(given is not None for given in (code, coding, concept)) != 1:
        raise bad_request("Give exactly one of 'code', 'coding' and 'codeableConcept'")
    if code is not None:
        return [(system, code, params.text("display"))]
    codings = [coding] if coding is not None else (concept or {}).get("coding") or []
    if not isinstance(codings, list) or not all(isinstance(c, dict) for c in codings):
        raise bad_request("The codeableConcept's 'coding' must be an array of Coding objects")
    found = [(c.get("system"), c["code"], c.get("display")) for c in codings if isinstance(c.get("code"), str)]
    if not found:
        raise bad_request("The codeableConcept has no coding with a code")
    return found


def _validation_parameters(result: CodeResult) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [{"name": "result", "valueBoolean": result.valid is True}]
    if result.message:
        parameters.append({"name": "message", "valueString": result.message})
        severity, code = {True: ("warning", "informational"), False: ("error", "code-invalid")}.get(
            result.valid, ("warning", "not-supported")
        )
        issues = operation_outcome([Issue(severity, code, result.message)])
        parameters.append({"name": "issues", "resource": issues})
    if result.display:
        parameters.append({"name": "display", "valueString": result.display})
    return {"resourceType": "Parameters", "parameter": parameters}


def _lookup_parameters(found: Lookup, wanted: set[str]) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [{"name": "name", "valueString": found.name}]
    if found.version:
        parameters.append({"name": "version", "valueString": found.version})
    parameters.append({"name": "display", "valueString": found.display or found.code})
    if found.definition and (not wanted or "definition" in wanted):
        parameters.append({"name": "definition", "valueString": found.definition})
    for designation in found.designations:
        parts = [{"name": "value", "valueString": designation.get("value", "")}]
        if designation.get("language"):
            parts.insert(0, {"name": "language", "valueCode": designation["language"]})
        if designation.get("use"):
            parts.insert(-1, {"name": "use", "valueCoding": designation["use"]})
        parameters.append({"name": "designation", "part": parts})
    properties = [*found.properties, {"code": "inactive", "valueBoolean": found.inactive}]
    for prop in properties:
        if wanted and prop.get("code") not in wanted:
            continue
        value = {key: v for key, v in prop.items() if key.startswith("value")}
        parameters.append({"name": "property", "part": [{"name": "code", "valueCode": prop.get("code")},
                                                          {"name": "value", **value}]})
    return {"resourceType": "Parameters", "parameter": parameters}
