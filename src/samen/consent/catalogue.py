"""The consent catalogue (Mitz toestemmingscatalogus), as data: what a citizen's choice is about.

A choice names three categories: the category of the data holder (dossierhoudende zorgaanbieder), the
data category (gegevenscategorie) and the category of the requester (raadplegende zorgaanbieder). The
lists, the mapping of the RoleCodeNL zorgaanbiedertype codes onto them and the FHIR resource types per
data category are in ``data/catalogue.json``, which names its sources, the date they were read and what
could not be verified (docs/consent.md).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import orjson

Category = tuple[str, str, str]  # (code, display_nl, display_en)


@cache
def _data() -> dict[str, Any]:
    return orjson.loads(resources.files("samen.consent").joinpath("data/catalogue.json").read_bytes())  # type: ignore[no-any-return]


HOLDER_CATEGORY_SYSTEM: str = _data()["systems"]["holder"]
DATA_CATEGORY_SYSTEM: str = _data()["systems"]["data"]
REQUESTER_CATEGORY_SYSTEM: str = _data()["systems"]["requester"]


def _categories(key: str) -> list[Category]:
    return [(c["code"], c["display_nl"], c["display_en"]) for c in _data()[key]]


def holder_categories() -> list[Category]:
    """The categories of data-holding care providers (dossierhoudende zorgaanbieders), in Mitz's order."""
    return _categories("holder_categories")


def data_categories() -> list[Category]:
    return _categories("data_categories")


def requester_categories() -> list[Category]:
    """The categories of requesting care providers; one may cover several holder categories (Mitz 3)."""
    return _categories("requester_categories")


@cache
def _holder_by_type() -> dict[str, str]:
    return {t: c["code"] for c in _data()["holder_categories"] for t in c["organisation_types"]}


@cache
def _requester_by_holder() -> dict[str, str]:
    return {h: c["code"] for c in _data()["requester_categories"] for h in c["holder_categories"]}


@cache
def _data_by_type() -> dict[str, str]:
    return {t: c["code"] for c in _data()["data_categories"] for t in c["resource_types"]}


def holder_category(organisation_type: str) -> str | None:
    """The holder category of an organisation of this zorgaanbiedertype (e.g. "Z3" -> "huisarts"), or None."""
    return _holder_by_type().get(organisation_type)


def requester_category(organisation_type: str) -> str | None:
    """The requester category of an organisation of this zorgaanbiedertype (a laboratory asks as "ziekenhuis")."""
    holder = holder_category(organisation_type)
    return None if holder is None else _requester_by_holder().get(holder)


def data_category(res_type: str, resource_or_params: Any = None) -> str | None:
    """The data category of a FHIR resource type, or None when the type is no patient data of its own.

    None for Patient and for what patient data refers to (Organization, Practitioner, Medication, ...):
    they are released with the data that refers to them, under that data's category. The catalogue
    splits no resource type today, so ``resource_or_params`` (a resource or search parameters, for a
    catalogue that would, e.g. laboratory Observations apart) does not change the answer.
    """
    return _data_by_type().get(res_type)


def is_code(kind: str, code: object) -> bool:
    """Whether ``code`` is in the catalogue's list ``kind`` ("holder", "data" or "requester")."""
    return isinstance(code, str) and code in _codes()[kind]


@cache
def _codes() -> dict[str, frozenset[str]]:
    return {
        "holder": frozenset(c[0] for c in holder_categories()),
        "data": frozenset(c[0] for c in data_categories()),
        "requester": frozenset(c[0] for c in requester_categories()),
    }


def system(kind: str) -> str:
    """The code system URL of the list ``kind`` ("holder", "data" or "requester")."""
    return {"holder": HOLDER_CATEGORY_SYSTEM, "data": DATA_CATEGORY_SYSTEM, "requester": REQUESTER_CATEGORY_SYSTEM}[kind]
