"""Extensions: each ``url`` is resolved to its StructureDefinition, its context checked, and the
extension validated against that definition like a profile."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from samen.fhir.validation.fhirpath import Env

if TYPE_CHECKING:
    from samen.fhir.validation.validator import Engine
    from samen.fhir.validation.walker import Walk

_QUANTITY_KINDS = frozenset({"Age", "Count", "Distance", "Duration", "MoneyQuantity", "SimpleQuantity"})


class Extensions:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def check(self, walk: Walk, extension: dict[str, Any], modifier: bool, owner: tuple[str, str], path: str,
              env: Env) -> None:
        """``owner``: the definition path and type of the element carrying the extension."""
        url = extension.get("url")
        if type(url) is not str or ":" not in url:
            return  # a nested extension of a complex one: its parent's definition describes it
        structure = self.engine.structures.by_url(url)
        if structure is None or structure.type != "Extension":
            if modifier:
                walk.issue("error", "extension", f"Unknown modifier extension '{url}': it may change the meaning "
                           "of the element, so it cannot be ignored", path)
            else:
                walk.issue("warning", "extension", f"Unknown extension '{url}'", path)
            return
        if modifier and not structure.root.is_modifier:
            walk.issue("error", "structure", f"The extension '{url}' is not a modifier extension, "
                       "but is used as a modifierExtension", path)
        elif not modifier and structure.root.is_modifier:
            walk.issue("error", "structure", f"The extension '{url}' is a modifier extension and must be "
                       "used as a modifierExtension", path)
        if structure.context and not any(self._context_matches(context, owner) for context in structure.context):
            allowed = ", ".join(str(context.get("expression")) for context in structure.context)
            walk.issue("error", "structure", f"The extension '{url}' is not allowed on {owner[0]} "
                       f"(its contexts: {allowed})", path)
        self.engine.profile_walk(walk.issues).value(extension, None, structure.root, "Extension", path, env,
                                                    structure.url)

    def _context_matches(self, context: dict[str, Any], owner: tuple[str, str]) -> bool:
        kind, expression = context.get("type"), context.get("expression", "")
        if kind != "element":
            return True  # fhirpath and extension contexts are not checked
        definition_path, owner_type = owner
        if expression in (definition_path, owner_type, "Base", "Element"):
            return True  # "Element" admits resources too, as the HL7 validator has it
        is_resource = owner_type in self.engine.model.resource_types
        if expression in ("Resource", "DomainResource"):
            return is_resource and (expression == "Resource" or owner_type not in ("Bundle", "Binary", "Parameters"))
        if expression.startswith(("Resource.", "DomainResource.")):
            return "." in definition_path and definition_path.split(".", 1)[1] == expression.split(".", 1)[1]
        if expression == "Quantity":
            return owner_type in _QUANTITY_KINDS
        if expression == "BackboneElement":
            return "." in owner_type
        return "#" in expression  # a profile's element (url#path): not checked
