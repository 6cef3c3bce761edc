"""Airflow Assets for container images, so downstream DAGs can be scheduled on a new image.

An image Asset names the registry and the repository: ``docker-image://<registry>/<repository>``, the registry
as image references write it (``docker.io`` for Docker Hub, whatever alias or URL it is given as; otherwise
``host[:port]``, lower case), so a DAG scheduled on a Docker Hub image does not fire on a push of the same name
to a private registry. Push and promote operators emit an event on it with the digest and the registry in its
extra:

    @dag(schedule=[image_asset("acme/app")])                           # Docker Hub
    def deploy(): ...   # context["triggering_asset_events"][asset][-1].extra["digest"]

    @dag(schedule=[image_asset("acme/app", registry="registry.example.com:5000")])
    def deploy_private(): ...
"""

from __future__ import annotations

from typing import Any

IMAGE_ASSET_SCHEME = "docker-image"
DOCKER_HUB = "docker.io"


def image_asset(repository: str, registry: str = DOCKER_HUB) -> Any:
    """The Asset for ``repository`` on ``registry`` (a host, ``host:port`` or a registry URL)."""
    from airflow.providers.common.compat.sdk import Asset

    registry, repository = image_name(repository, registry)
    return Asset(uri=f"{IMAGE_ASSET_SCHEME}://{registry}/{repository}", name=f"{registry}/{repository}")


def image_name(repository: str, registry: str = DOCKER_HUB) -> tuple[str, str]:
    """``(registry, repository)`` as the Asset URI writes them: the registry's canonical name, and the repository
    validated (``library/`` implied for a single-segment name on Docker Hub, as the registry client does)."""
    # Imported here: the client is lazy, and an Asset is built at DAG parse time.
    from airflow_provider_dockerhub.client.core.reference import registry_name, validate_repository_name

    name = registry_name(registry)
    return name, validate_repository_name(repository, docker_hub=name == DOCKER_HUB)


def is_image_asset(outlet: Any) -> bool:
    return str(getattr(outlet, "uri", "")).startswith(f"{IMAGE_ASSET_SCHEME}://")


def image_asset_target(outlet: Any) -> tuple[str, str] | None:
    """``(registry, repository)`` an image Asset names, ``None`` for any other outlet."""
    if not is_image_asset(outlet):
        return None
    registry, _, repository = str(outlet.uri).removeprefix(f"{IMAGE_ASSET_SCHEME}://").partition("/")
    return registry, repository


def foreign_image_outlets(outlets: Any, registry: str, repository: str) -> list[str]:
    """The URIs of the image Assets in ``outlets`` that name another image than ``repository`` on ``registry``:
    a task must not emit this push's digest on them (a Hub image's DAG would fire on a private registry's push)."""
    wanted = image_name(repository, registry)
    return [
        str(outlet.uri)
        for outlet in outlets or []
        if (target := image_asset_target(outlet)) is not None and target != wanted
    ]
