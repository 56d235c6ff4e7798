"""Fixtures for the identity provider tests: the test IdPs served over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from idp_serving import ServedIdp, served_idp


@pytest.fixture
def idp() -> Iterator[ServedIdp]:
    """Both test IdPs, with one registered client (``test-app``) whose redirect URI nobody serves:
    the tests read the redirects themselves."""
    with served_idp({"test-app": ("http://127.0.0.1:9/callback",)}) as served:
        yield served


@pytest.fixture
def browser_less() -> Iterator[httpx.Client]:
    """An HTTP client that does not follow redirects, so that each step of a flow can be checked."""
    with httpx.Client(follow_redirects=False, timeout=10) as client:
        yield client
