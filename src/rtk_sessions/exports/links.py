"""Download links: signed URLs to ``/downloads/...`` on this server, or, with S3
configured, the artifact uploaded and a presigned GET of it with the same lifetime."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, quote, urlsplit

from rtk_sessions.clock import Clock
from rtk_sessions.exports.artifacts import Rendered, render
from rtk_sessions.exports.signing import Artifact, signed_query
from rtk_sessions.store.database import Database
from rtk_sessions.store.jobs import instance_secret

DOWNLOAD_SECRET_NAME = "download_links"


@dataclass(frozen=True, slots=True)
class Link:
    url: str
    expires_ms: int


class Downloads:
    """Makes download links and knows the key that signs them.

    The key is ``RTK_DOWNLOAD_SECRET`` if set, else one generated on first use and kept
    in the database (so every replica signs and checks with the same one).
    """

    def __init__(self, db: Database, settings, clock: Clock) -> None:
        self._db, self._clock = db, clock
        self._configured = settings.download_secret.get_secret_value()
        self.lifetime_s = settings.download_link_seconds
        self._s3 = (
            S3Links(
                db, s3_client(settings), settings.s3_bucket, settings.s3_prefix, self.lifetime_s
            )
            if settings.s3_bucket
            else None
        )

    def secret(self) -> str:
        return self._configured or instance_secret(self._db, DOWNLOAD_SECRET_NAME, self._clock())

    def link(self, artifact: Artifact, base_url: str, now_ms: int, version: str) -> Link:
        """A link to the artifact; ``version`` names the state of its data (S3 uploads
        once per version)."""
        if self._s3 is not None:
            return self._s3.link(artifact, version)
        expires_s = now_ms // 1000 + self.lifetime_s
        path = artifact.path()
        return Link(
            f"{base_url}{path}?{signed_query(self.secret(), path, expires_s)}", expires_s * 1000
        )


class S3Links:
    """The artifact uploaded to an S3-compatible bucket (once per version of its data) and
    a presigned GET of it."""

    def __init__(self, db: Database, client, bucket: str, prefix: str, lifetime_s: int) -> None:
        self._db, self._client, self._bucket, self._prefix = db, client, bucket, prefix
        self.lifetime_s = lifetime_s

    def link(self, artifact: Artifact, version: str) -> Link:
        # rendering is lazy: only the file name is made unless this version must be uploaded
        rendered = render(self._db, artifact)
        if rendered is None:
            raise LookupError("nothing to download")
        key = (
            f"{self._prefix}{artifact.app_pk}/{quote(artifact.session_id, safe='')}/"
            f"{version}/{rendered.filename}"
        )
        if not self._exists(key):
            self._upload(key, rendered)
        url = self._client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self._bucket, "Key": key},
            ExpiresIn=self.lifetime_s,
        )
        return Link(url, _presigned_expiry_ms(url, self.lifetime_s))

    def _upload(self, key: str, rendered: Rendered) -> None:
        # spooled: a large chat goes to a temporary file, not memory
        with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
            for chunk in rendered.body:
                spool.write(chunk)
            spool.seek(0)
            self._client.upload_fileobj(
                spool,
                self._bucket,
                key,
                ExtraArgs={
                    "ContentType": rendered.media_type,
                    "ContentDisposition": f'attachment; filename="{rendered.filename}"',
                },
            )

    def _exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client.head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True


def _presigned_expiry_ms(url: str, lifetime_s: int) -> int:
    """When the presigned URL stops working, as the URL itself says (boto3 signs with the
    system clock): SigV2 ``Expires``, or SigV4 ``X-Amz-Date`` + ``X-Amz-Expires``."""
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    if "Expires" in query:
        return int(query["Expires"]) * 1000
    if "X-Amz-Date" in query:
        signed = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        return int(signed.timestamp() + int(query.get("X-Amz-Expires", lifetime_s))) * 1000
    return (int(time.time()) + lifetime_s) * 1000


def s3_client(settings):
    import boto3

    secret = settings.s3_secret_access_key.get_secret_value()
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url or None,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id or None,
        aws_secret_access_key=secret or None,
    )
