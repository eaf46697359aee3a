"""Where and how to reach an S3 bucket: the one definition, validated (no boto3 import here).

The S3 store takes it as is, and the agent's configuration uses it as its
``storage.store.s3`` section, so the settings exist once.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class S3Config(BaseModel):
    """An S3 bucket. No credentials here, on purpose (environment or instance role only)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bucket: str = Field(min_length=3)
    prefix: str = ""
    #: None: AWS; set for MinIO or another S3 service.
    endpoint_url: str | None = None
    region: str | None = None
    #: "path" for MinIO and most self-hosted S3 services; "auto" lets boto3 choose.
    addressing_style: Literal["auto", "path", "virtual"] = "auto"
    connect_timeout_s: float = Field(default=5.0, gt=0, le=300)
    read_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    #: botocore's own attempts per call; the uploader's back-off does the long-term retrying.
    client_attempts: int = Field(default=2, ge=1, le=10)
    #: Off for services that reject x-amz-checksum-sha256.
    send_checksum: bool = True
    #: Verify the service's certificate; or the path of a CA bundle to verify it with.
    verify_tls: bool | str = True
