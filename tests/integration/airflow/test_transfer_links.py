"""The push and copy operators' extra link: the image's Docker Hub page, built from the task's own transfer result;
no link for another registry (never a Registry API URL)."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_dockerhub.operators.links import DockerHubTransferImageLink, hub_image_page
from airflow_provider_dockerhub.operators.registry import DockerHubCopyImageOperator, DockerHubPushImageOperator

DIGEST = "sha256:" + "a" * 64


def result(registry: str, repository: str, tags: list[str]) -> dict[str, Any]:
    return {"digest": DIGEST, "registry": registry, "repository": repository, "tags": tags}


@pytest.mark.parametrize(
    ("value", "page"),
    [
        (
            result("docker.io", "acme/app", ["release", "20261202"]),
            "https://hub.docker.com/r/acme/app/tags?name=release",
        ),
        (result("docker.io", "library/python", ["3.12"]), "https://hub.docker.com/_/python/tags?name=3.12"),
        (result("registry.example.com:5000", "acme/app", ["release"]), None),  # no page: no link
        (result("docker.io", "acme/app", []), None),  # nothing tagged
        (None, None),  # the task has not pushed (yet)
        ("not a result", None),
    ],
)
def test_the_page_is_docker_hubs_or_none(value: Any, page: str | None) -> None:
    assert hub_image_page(value) == page


def test_push_and_copy_carry_the_link_and_it_reads_their_result(mocker: Any) -> None:
    push = DockerHubPushImageOperator(task_id="push", layout_path="s3://b/oci", repository="acme/app", tags=["rc"])
    copy = DockerHubCopyImageOperator(task_id="promote", source="acme/app:rc", destination="acme/app:release")
    for operator in (push, copy):
        (link,) = operator.operator_extra_links
        assert isinstance(link, DockerHubTransferImageLink) and link.name == "Image on Docker Hub"
    get_value = mocker.patch("airflow_provider_dockerhub.operators.links.XCom.get_value")
    get_value.return_value = result("docker.io", "acme/app", ["release"])
    assert (
        copy.operator_extra_links[0].get_link(copy, ti_key="key")
        == "https://hub.docker.com/r/acme/app/tags?name=release"
    )
    get_value.assert_called_once_with(ti_key="key", key="return_value")
    get_value.return_value = result("127.0.0.1:5000", "acme/app", ["release"])
    assert copy.operator_extra_links[0].get_link(copy, ti_key="key") == ""


def test_the_provider_registers_the_link() -> None:
    from airflow.providers_manager import ProvidersManager

    assert (
        "airflow_provider_dockerhub.operators.links.DockerHubTransferImageLink"
        in ProvidersManager().extra_links_class_names
    )
