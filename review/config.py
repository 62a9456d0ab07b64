"""Settings from the environment, read once at the edge and passed down (no module globals)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Mapping

from review.errors import ConfigError

DEFAULT_EUTILS_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"
MAX_BATCH = 10_000  # NCBI's ceiling for efetch retmax


@dataclass(frozen=True)
class Settings:
    """Everything the PubMed client needs; ``api_key`` is never logged or archived."""

    email: str | None = None
    api_key: str | None = field(default=None, repr=False)
    tool: str = "kratom-review"
    eutils_url: str = DEFAULT_EUTILS_URL
    timeout: float = 60.0
    max_tries: int = 5
    backoff: float = 1.0  # seconds; doubled on each retry
    batch_size: int = 500

    @property
    def requests_per_second(self) -> int:
        """NCBI's limit: 3 requests/s without an API key, 10 with one."""
        return 10 if self.api_key else 3

    def require_email(self) -> None:
        if not self.email:
            raise ConfigError(
                "NCBI_EMAIL is not set. NCBI asks every E-utilities user for a contact email: "
                "export NCBI_EMAIL=you@example.org (and optionally NCBI_API_KEY) and run again, "
                "or use --replay DIR to re-ingest an archived search offline."
            )


def settings_from_env(env: Mapping[str, str] | None = None, **overrides) -> Settings:
    """Build Settings from NCBI_EMAIL, NCBI_API_KEY, NCBI_TOOL, NCBI_EUTILS_URL, NCBI_TIMEOUT, NCBI_MAX_TRIES."""
    env = os.environ if env is None else env
    values: dict = {
        "email": env.get("NCBI_EMAIL") or None,
        "api_key": env.get("NCBI_API_KEY") or None,
        "tool": env.get("NCBI_TOOL") or "kratom-review",
        "eutils_url": env.get("NCBI_EUTILS_URL") or DEFAULT_EUTILS_URL,
    }
    for key, name, conv in (("timeout", "NCBI_TIMEOUT", float), ("max_tries", "NCBI_MAX_TRIES", int),
                            ("backoff", "NCBI_BACKOFF", float)):
        if env.get(name):
            try:
                values[key] = conv(env[name])
            except ValueError:
                raise ConfigError(f"{name}={env[name]!r} is not a number") from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    if not values["eutils_url"].endswith("/"):
        values["eutils_url"] += "/"
    batch = values.get("batch_size", 500)
    if not 1 <= batch <= MAX_BATCH:
        raise ConfigError(f"batch size {batch} is out of range: use 1..{MAX_BATCH} (NCBI's efetch limit)")
    return Settings(**values)


def project_root(start: Path | None = None) -> Path:
    """The folder holding queries/ (the current directory unless a parent has it)."""
    here = (start or Path.cwd()).resolve()
    for p in (here, *here.parents):
        if (p / "queries").is_dir() and (p / "pyproject.toml").is_file():
            return p
    return here


def project_path(path: str | os.PathLike, root: Path | None = None) -> Path:
    """A path given relative to the project folder, whatever the current directory.

    Notebooks opened in JupyterLab run with the kernel in ``notebooks/``; their default
    parameters (``outputs/review.sqlite``, ``queries/claims.yaml``) name project paths.
    """
    p = Path(path).expanduser()
    return p if p.is_absolute() else (root or project_root()) / p
