"""The contract is documented: every endpoint is in the OpenAPI document and every $ref in it resolves."""

from __future__ import annotations


def _refs(node) -> set[str]:  # noqa: ANN001
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


async def test_openapi_lists_every_endpoint_and_resolves(ingest):
    response = await ingest.client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    for path in ("/v1/reports", "/v1/reports:batch", "/v1/reports/{report_id}/withdraw", "/v1/commitments",
                 "/v1/public/commitments", "/v1/admin/departments", "/v1/admin/departments/{code}/tokens",
                 "/v1/admin/departments/{code}/tokens/{credential_id}:revoke",
                 "/v1/admin/departments/{code}/tokens/{credential_id}:rotate", "/v1/admin/admins/{name}/tokens",
                 "/v1/admin/admins/{name}/tokens/{credential_id}:revoke", "/v1/admin/audit"):
        assert path in spec["paths"], path
    schemas = spec["components"]["schemas"]
    for ref in _refs(spec):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref
    batch_body = spec["paths"]["/v1/reports:batch"]["post"]["requestBody"]["content"]
    assert set(batch_body) == {"application/json", "application/x-ndjson"}
