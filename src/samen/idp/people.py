"""The people the test identity providers can log in: synthetic citizens and test professionals."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson

from samen.sample import elfproef


@dataclass(frozen=True)
class TestProfessional:
    """A professional as a Dezi-like register knows them: UZI number, role (RoleCodeNL) and organisation."""

    uzi: str  # http://fhir.nl/fhir/NamingSystem/uzi-nr-pers
    name: str
    role: str  # RoleCodeNL zorgverlenertype (2.16.840.1.113883.2.4.15.111), e.g. 01.015 huisarts
    role_name: str  # the role's Dutch display, shown on the login page
    ura: str  # the organisation (URA) the professional works for
    organisation: str


# Synthetic professionals of two synthetic organisations; UZI numbers and URAs outside any real range.
DEFAULT_PROFESSIONALS: tuple[TestProfessional, ...] = (
    TestProfessional("900000001", "dr. A. de Vries", "01.015", "Huisarts", "90000001", "Huisartsenpraktijk De Linde"),
    TestProfessional("900000002", "B. Jansen", "30.000", "Verpleegkundige", "90000002", "Ziekenhuis Noord"),
    TestProfessional("900000003", "C. Bakker", "17.000", "Apotheker", "90000003", "Apotheek Centrum"),
)


def load_professionals(path: Path) -> tuple[TestProfessional, ...]:
    """Test professionals from a JSON list of objects with the fields of :class:`TestProfessional`.

    Raises ValueError naming the first entry that is not complete.
    """
    entries = orjson.loads(path.read_bytes())
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a JSON list of professionals")
    professionals = []
    fields = TestProfessional.__dataclass_fields__
    for number, entry in enumerate(entries):
        if not isinstance(entry, dict) or set(entry) != set(fields) or not all(
            isinstance(value, str) and value for value in entry.values()
        ):
            raise ValueError(f"{path}: professional {number} needs exactly the text fields {', '.join(fields)}")
        professionals.append(TestProfessional(**entry))
    return tuple(professionals)


def synthetic_bsn(bsn: str) -> bool:
    """Whether ``bsn`` may log in at the test citizen IdP: a valid BSN of the unissued 9 series.

    Real BSNs are never issued with a leading 9; the official test numbers (9999xxxxx) and the
    numbers of ``samen synth`` and the sample data are all in that series, so no real person's BSN
    can be used here.
    """
    return bsn.startswith("9") and elfproef(bsn)
