"""Evidence blobs in an S3-compatible bucket (AWS S3, MinIO, Ceph, ...): ``s3://BUCKET/PREFIX`` with the keys
``PREFIX/sha256/<2 hex>/<62 hex>``, so N server workers on N hosts share one store. boto3 does the transfers
(multipart for large files); the endpoint, region and credentials are boto3's own settings (``AWS_ENDPOINT_URL``,
``AWS_REGION``, ``AWS_ACCESS_KEY_ID`` ...).

A file is uploaded once, hashed as it goes, to ``PREFIX/tmp/<random>``, then copied server-side to its address and
the temporary object deleted: a blob appears whole under its digest or not at all, even if the file changes while
it is read.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from assay.errors import ConfigError, InputError
from assay.evidence._interface import BlobProblem, BlobStore, StoredBlob
from assay.evidence._local import _PREFIX, _hex, blob_digest, write_verified


class _Hashing(io.RawIOBase):
    """A reader that hashes and counts what passes through it."""

    def __init__(self, src: BinaryIO) -> None:
        self.src, self.hash, self.size = src, hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.src.read(len(buffer))
        self.hash.update(data)
        self.size += len(data)
        buffer[:len(data)] = data
        return len(data)


class S3BlobStore(BlobStore):
    """A content-addressed bucket prefix."""

    def __init__(self, url: str, client: Any = None) -> None:
        if not url.startswith("s3://") or not url[5:].split("/", 1)[0]:
            raise ConfigError(f"ASSAY_EVIDENCE_URL={url!r} is not s3://BUCKET[/PREFIX]")
        self.url = url.rstrip("/")
        self.bucket, _, prefix = url[5:].partition("/")
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        if client is None:
            try:
                import boto3
            except ImportError:
                raise ConfigError("ASSAY_EVIDENCE_URL names a bucket, but boto3 is not installed: pip install "
                                  "'assay[s3]'") from None
            client = boto3.client("s3")
        self.s3 = client

    def _key(self, digest: str) -> str:
        h = _hex(digest)
        return f"{self.prefix}sha256/{h[:2]}/{h[2:]}"

    def _missing(self, exc: Exception) -> bool:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        return code in ("404", "NoSuchKey", "NotFound")

    def _fail(self, exc: Exception, what: str) -> InputError:
        return InputError(f"cannot {what} in {self.url}: {exc}")

    def put(self, data: bytes) -> StoredBlob:
        """Store ``data``; the same bytes twice are written once."""
        digest = blob_digest(data)
        if self.exists(digest) and self.size(digest) == len(data):
            return StoredBlob(digest, len(data))
        try:
            self.s3.put_object(Bucket=self.bucket, Key=self._key(digest), Body=data)
        except Exception as exc:  # noqa: BLE001 (botocore's errors: one line, exit 2)
            raise self._fail(exc, f"store evidence {digest}") from None
        return StoredBlob(digest, len(data))

    def put_file(self, path: Path) -> StoredBlob:
        """Store the file at ``path``, streaming through one upload (multipart when large)."""
        temporary = f"{self.prefix}tmp/.tmp-{secrets.token_hex(12)}"
        try:
            with open(path, "rb") as src:
                reader = _Hashing(src)
                self.s3.upload_fileobj(io.BufferedReader(reader, 1 << 20), self.bucket, temporary)
            digest = _PREFIX + reader.hash.hexdigest()
            if not (self.exists(digest) and self.size(digest) == reader.size):
                self.s3.copy({"Bucket": self.bucket, "Key": temporary}, self.bucket, self._key(digest))
            return StoredBlob(digest, reader.size)
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self._fail(exc, f"keep {path}") from None
        finally:
            try:
                self.s3.delete_object(Bucket=self.bucket, Key=temporary)
            except Exception:  # noqa: BLE001 (left for leftovers() to name)
                pass

    def _body(self, digest: str) -> Any:
        try:
            return self.s3.get_object(Bucket=self.bucket, Key=self._key(digest))["Body"]
        except Exception as exc:  # noqa: BLE001
            if self._missing(exc) or type(exc).__name__ == "NoSuchKey":
                raise InputError(f"evidence {digest} is missing from {self.url}") from None
            raise self._fail(exc, f"read evidence {digest}") from None

    def copy_out(self, digest: str, target: Path, chunk: int = 1 << 20) -> None:
        """Write the blob to the new file ``target``, re-hashing as it goes; nothing left behind when it fails."""
        body = self._body(digest)
        write_verified(iter(lambda: body.read(chunk), b""), digest, target)

    def get(self, digest: str) -> bytes:
        """The stored bytes; InputError when missing."""
        return bytes(self._body(digest).read())

    def get_verified(self, digest: str) -> bytes:
        """The stored bytes, re-hashed: InputError when missing or altered."""
        data = self.get(digest)
        if blob_digest(data) != digest:
            raise InputError(f"evidence {digest} was altered: its bytes no longer hash to their digest")
        return data

    def exists(self, digest: str) -> bool:
        """Whether the object exists."""
        try:
            self.s3.head_object(Bucket=self.bucket, Key=self._key(digest))
            return True
        except Exception as exc:  # noqa: BLE001
            if self._missing(exc):
                return False
            raise self._fail(exc, f"look up evidence {digest}") from None

    def size(self, digest: str) -> int:
        """The object's size in bytes."""
        try:
            return int(self.s3.head_object(Bucket=self.bucket, Key=self._key(digest))["ContentLength"])
        except Exception as exc:  # noqa: BLE001
            raise InputError(f"evidence {digest} is missing from {self.url}: {exc}") from None

    def check(self, digest: str) -> BlobProblem | None:
        """Re-hash the object, streaming; missing or altered is a problem."""
        try:
            body = self._body(digest)
        except InputError as exc:
            return BlobProblem(digest, "missing", str(exc))
        h = hashlib.sha256()
        while block := body.read(1 << 20):
            h.update(block)
        actual = _PREFIX + h.hexdigest()
        return None if actual == digest else BlobProblem(digest, "altered", f"evidence {digest} was altered: its "
                                                                            f"bytes now hash to {actual}")

    def _keys(self, under: str) -> Iterator[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix + under)
        for page in pages:
            for item in page.get("Contents", ()):
                yield str(item["Key"])

    def digests(self) -> Iterator[str]:
        """Every blob present, as digests."""
        for key in self._keys("sha256/"):
            two, rest = key.rsplit("/", 2)[-2:]
            if len(two) == 2 and len(rest) == 62:
                yield _PREFIX + two + rest

    def leftovers(self) -> Iterator[str]:
        """Temporary objects of uploads that did not finish."""
        yield from (f"s3://{self.bucket}/{key}" for key in self._keys("tmp/"))
