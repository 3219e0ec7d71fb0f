"""Evidence in an S3-compatible bucket: a real S3-speaking server on loopback (moto's server mode), the team server
storing and reading through it, and what a changed or missing object does."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest

from tests.conftest import DATABASES, _fresh_database
from tests.fixtures.model_folders import card, write_model
from tests.server.conftest import FAST_JOBS, TeamServer, free_port, start, stop

AWS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, str]]:
    """An S3 server on loopback and a bucket in it; the environment that points boto3 at it."""
    port = free_port()
    server = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(endpoint, timeout=1)
            break
        except httpx.HTTPError:
            assert time.monotonic() < deadline and server.poll() is None, "moto_server did not start"
            time.sleep(0.2)
    env = {**AWS, "AWS_ENDPOINT_URL": endpoint}
    boto3.client("s3", endpoint_url=endpoint, **_credentials()).create_bucket(Bucket="evidence")
    try:
        yield env
    finally:
        server.terminate()
        server.wait(10)


def _credentials() -> dict[str, str]:
    return {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": "us-east-1"}


@pytest.fixture(scope="module", params=DATABASES)
def s3_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
              s3: dict[str, str]) -> Iterator[TeamServer]:
    """Two server workers (processes) sharing one database and one bucket, and no evidence folder."""
    folder = tmp_path_factory.mktemp("s3server")
    for url in _fresh_database(request.param, folder):
        env = {"ASSAY_HOME": str(folder / "home"), "ASSAY_DATABASE_URL": url, "ASSAY_ACTOR": "root",
               "ASSAY_EVIDENCE_URL": f"s3://evidence/{request.param}", **s3, **FAST_JOBS}
        os.environ.update(s3)  # the test's own boto3 client and the CLI children see the same endpoint
        first, address, token = start(env)
        second, address2, _ = start(env, init=False)
        server = TeamServer(address, env, token or "", [first, second])
        server.tokens["second-url"] = address2
        try:
            yield server
        finally:
            for p in server.processes:
                stop(p)


def test_evidence_lives_in_the_bucket_and_any_worker_reads_it(s3_server: TeamServer, tmp_path: Path) -> None:
    s = s3_server
    alice = s.token("alice", "submitter")
    model = write_model(tmp_path / "m", card=card("mit"))
    accepted = json.loads(s.cli(alice, "intake", str(model), "--name", "acme/m", "--owner", "ml", "-f", "json").stdout)
    assert accepted["accepted"] is True
    assert not (Path(s.env["ASSAY_HOME"]) / "evidence").exists()  # nothing on the worker's disk

    bucket = boto3.client("s3", endpoint_url=s.env["AWS_ENDPOINT_URL"], **_credentials())
    prefix = s.env["ASSAY_EVIDENCE_URL"].removeprefix("s3://evidence/")
    keys = [o["Key"] for o in bucket.list_objects_v2(Bucket="evidence", Prefix=prefix)["Contents"]]
    weights = hashlib.sha256((model / "model.safetensors").read_bytes()).hexdigest()
    assert f"{prefix}/sha256/{weights[:2]}/{weights[2:]}" in keys  # the kept copy of the weights, by digest
    assert not [k for k in keys if "/tmp/" in k]  # every upload's temporary object is gone

    # the other worker restores the files from the bucket
    second = TeamServer(s.tokens["second-url"], s.env, s.admin)
    pulled = second.cli(s.token("vera", "viewer"), "pull", "acme/m@1", str(tmp_path / "copy"))
    assert pulled.returncode == 0, pulled.stderr
    assert (tmp_path / "copy" / "model.safetensors").read_bytes() == (model / "model.safetensors").read_bytes()
    assert "OK" in s.cli(s.token("audrey", "auditor"), "doctor").stdout

    # an object changed in the bucket: doctor names it, and pull refuses to hand it out
    key = f"{prefix}/sha256/{weights[:2]}/{weights[2:]}"
    bucket.put_object(Bucket="evidence", Key=key, Body=b"not the weights")
    doctor = s.cli(s.token("audrey", "auditor"), "doctor")
    assert doctor.returncode == 1 and "altered" in doctor.stdout
    again = s.cli(s.token("vera", "viewer"), "pull", "acme/m@1", str(tmp_path / "copy2"))
    assert again.returncode != 0 and "altered" in again.stderr
