"""Every GraphQL document the Scout client sends is valid against Scout's schema (graphql-core)."""

from __future__ import annotations

import pytest
from graphql import build_schema, parse, validate

from airflow_provider_dockerhub.client.scout.documents import DOCUMENTS
from tests.specs import spec_path


@pytest.fixture(scope="module")
def schema():  # type: ignore[no-untyped-def]
    return build_schema(spec_path("docker-scout-schema.graphql").read_text())


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_document_validates_against_the_schema(schema, name: str) -> None:  # type: ignore[no-untyped-def]
    document = parse(DOCUMENTS[name])
    assert validate(schema, document) == []
    (operation,) = document.definitions
    assert operation.name is not None and operation.name.value == name  # named, so logs and errors say which


def test_an_invalid_document_is_caught(schema) -> None:  # type: ignore[no-untyped-def]
    errors = validate(schema, parse("query X { imageSummariesByDigest(digests: []) { nope } }"))
    assert errors
