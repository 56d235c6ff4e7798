"""Text normalisation for string search: case- and accent-insensitive, as FHIR asks."""

from __future__ import annotations

import unicodedata
from functools import lru_cache


@lru_cache(maxsize=65536)
def normalize(text: str) -> str:
    """Lower-case, accents removed, white space collapsed: ``'Sánchez  DE Vries'`` -> ``'sanchez de vries'``."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())
