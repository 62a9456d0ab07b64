"""Shared fixtures. Tests never reach NCBI: PubMed traffic goes to a local E-utilities server."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

try:
    from eutils_server import EutilsServer
except ImportError:  # tests/ imported as a package
    from tests.eutils_server import EutilsServer


@pytest.fixture
def eutils_server() -> Iterator[EutilsServer]:
    """A started local E-utilities server on 127.0.0.1 (real PubMed XML from tests/data/entrez); stopped after the test."""
    with EutilsServer() as server:
        yield server
