"""Node settings: one frozen object, built by the CLI from flags and environment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    base_url: str = "http://127.0.0.1:8080/fhir"
    max_body_bytes: int = 16 * 1024 * 1024  # larger bodies get 413
    default_page_size: int = 20
    max_page_size: int = 1000
    history_page_size: int = 50
    bulk_dir: str = "var/bulk"
    access_log: bool = True  # one structured log line per request: method, path, status, duration
    packages: tuple[Path, ...] = ()  # FHIR packages (.tgz or folders) whose profiles and terminology the node loads
