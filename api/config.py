"""Settings of the HTTP service alone (keys, limits, CORS), read from ``VIQA_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    """``VIQA_API_KEY=s3cret viqa serve`` requires that key for writes (and for reads with ``VIQA_PUBLIC_READS=0``)."""

    model_config = SettingsConfigDict(env_prefix="VIQA_", extra="ignore")

    api_key: str | None = Field(
        default=None, description="Key for writes; without one, writes are accepted from loopback clients only."
    )
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, description="Largest JSON request body.")
    max_question_chars: int = Field(default=1000, ge=1, description="Longest question or search query.")
    max_upload_mb: float = Field(default=20.0, gt=0, description="Largest document upload (whole request).")
    cors_origins: list[str] = Field(default_factory=list, description='Allowed origins, e.g. ["http://localhost:3000"].')
    public_reads: bool = Field(default=True, description="Questions and listings need no key.")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 2**20)


@lru_cache
def get_api_settings() -> ApiSettings:
    """The process-wide API settings; tests call ``get_api_settings.cache_clear()`` after changing the environment."""
    return ApiSettings()
