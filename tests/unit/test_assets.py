"""Image Assets name the registry: ``docker-image://<registry>/<repository>``, Docker Hub as ``docker.io``."""

from __future__ import annotations

import pytest

from airflow_provider_dockerhub.assets import foreign_image_outlets, image_asset, image_asset_target, image_name
from airflow_provider_dockerhub.client import InvalidInputError
from airflow_provider_dockerhub.client.core.reference import registry_name
from airflow_provider_dockerhub.operators.registry import DockerHubCopyImageOperator, DockerHubPushImageOperator


@pytest.mark.parametrize(
    ("registry", "name"),
    [
        ("docker.io", "docker.io"),
        ("registry-1.docker.io", "docker.io"),
        ("https://registry-1.docker.io", "docker.io"),
        ("index.docker.io", "docker.io"),
        ("Registry.Example.com:5000", "registry.example.com:5000"),
        ("https://registry.example.com:5000/", "registry.example.com:5000"),
        ("http://127.0.0.1:5000", "127.0.0.1:5000"),
        ("https://ghcr.io:443", "ghcr.io"),  # the scheme's own port is no part of the name
    ],
)
def test_a_registry_is_named_as_image_references_name_it(registry: str, name: str) -> None:
    assert registry_name(registry) == name


def test_the_asset_uri_names_the_registry() -> None:
    assert image_asset("acme/app").uri == "docker-image://docker.io/acme/app"
    # Every spelling of Docker Hub is one Asset (before, each alias made its own, and none matched a push).
    assert image_asset("acme/app", "https://registry-1.docker.io").uri == "docker-image://docker.io/acme/app"
    assert image_asset("alpine").uri == "docker-image://docker.io/library/alpine"
    private = image_asset("acme/app", "Registry.Example.com:5000")
    assert private.uri == "docker-image://registry.example.com:5000/acme/app"
    assert private.name == "registry.example.com:5000/acme/app"
    assert image_asset("app", "localhost:5000").uri == "docker-image://localhost:5000/app"  # library/ is Hub's only
    assert image_asset_target(private) == ("registry.example.com:5000", "acme/app")
    assert image_asset_target(object()) is None


def test_a_bad_repository_is_refused_when_the_asset_is_built() -> None:
    with pytest.raises(InvalidInputError, match="lower case"):
        image_name("Acme/App")


def test_assets_of_another_image_are_found() -> None:
    hub, private = image_asset("acme/app"), image_asset("acme/app", "r.example:5000")
    outlets = [hub, private, image_asset("acme/other", "r.example:5000"), object()]
    assert foreign_image_outlets(outlets, "r.example:5000", "acme/app") == [
        "docker-image://docker.io/acme/app",
        "docker-image://r.example:5000/acme/other",
    ]
    assert foreign_image_outlets(outlets[:1], "https://registry-1.docker.io", "acme/app") == []


def test_operators_declare_the_asset_of_their_registry_at_parse_time() -> None:
    push = DockerHubPushImageOperator(
        task_id="push", layout_path="/l", repository="acme/app", tags=["1"], registry="r.example:5000"
    )
    assert [o.uri for o in push.outlets] == ["docker-image://r.example:5000/acme/app"]
    hub = DockerHubPushImageOperator(task_id="hub", layout_path="/l", repository="acme/app", tags=["1"])
    assert [o.uri for o in hub.outlets] == ["docker-image://docker.io/acme/app"]
    named = DockerHubCopyImageOperator(task_id="c1", source="acme/app:rc", destination="r.example:5000/acme/app:1")
    assert [o.uri for o in named.outlets] == ["docker-image://r.example:5000/acme/app"]
    short = DockerHubCopyImageOperator(task_id="c2", source="app:rc", destination="app:1")
    assert [o.uri for o in short.outlets] == ["docker-image://docker.io/library/app"]
    templated = DockerHubCopyImageOperator(task_id="c3", source="a:1", destination="{{ params.dst }}")
    assert templated.outlets == []
