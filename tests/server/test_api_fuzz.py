"""The API fuzzed from its own OpenAPI document (schemathesis): whatever a caller sends, no 500 and no traceback."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.server.conftest import TeamServer


@schemathesis.serializer("application/x-tar")
def _tar_bytes(ctx, value) -> bytes:  # noqa: ANN001  (an upload body: whatever bytes were generated)
    return value if isinstance(value, bytes) else str(value).encode()


def test_no_request_gets_a_500_or_a_traceback(team_server: TeamServer) -> None:
    # a viewer: every read runs on whatever was generated; a write is parsed and validated, then refused
    viewer = team_server.token("fuzz", "viewer")
    schema = schemathesis.openapi.from_url(team_server.url + "/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case) -> None:  # noqa: ANN001
            response = case.call(base_url=team_server.url, headers={"Authorization": f"Bearer {viewer}"})
            assert response.status_code < 500, (case.path, response.text)
            assert "Traceback" not in response.text and 'File "' not in response.text
            if response.status_code >= 400 and response.headers.get("content-type") == "application/json":
                body = response.json()
                assert set(body) == {"error", "exit_code"} and "\n" not in body["error"], (case.path, body)

        check()
