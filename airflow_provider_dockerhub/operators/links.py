"""Extra links of the image push and copy operators: the image's page on its registry, where the registry has one.

Docker Hub has a page per repository tag; a private registry (distribution, Harbor behind its own UI, ECR, GHCR...)
has none that the provider can name from a registry URL, so those tasks show no link rather than a Registry API
URL, which a browser cannot open without a token. The link reads the task's own XCom result (the transfer result:
``registry``, ``repository``, ``tags``), so it points at what this try wrote, not at what the arguments said.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

from airflow_provider_dockerhub.assets import DOCKER_HUB


def hub_image_page(result: Any) -> str | None:
    """Docker Hub's page for the first tag a transfer result wrote; ``None`` for another registry or no tag."""
    if not isinstance(result, dict) or result.get("registry") != DOCKER_HUB:
        return None
    repository, tags = str(result.get("repository") or ""), result.get("tags") or []
    if not repository or not tags:
        return None
    namespace, _, name = repository.partition("/")
    page = (
        f"https://hub.docker.com/_/{quote(name)}"
        if namespace == "library"
        else f"https://hub.docker.com/r/{quote(repository)}"
    )
    return f"{page}/tags?name={quote(str(tags[0]))}"


class DockerHubTransferImageLink(BaseOperatorLink):  # type: ignore[misc]
    """The pushed or copied image on Docker Hub; empty (no link) for any other registry."""

    name = "Image on Docker Hub"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        return hub_image_page(XCom.get_value(ti_key=ti_key, key="return_value")) or ""
