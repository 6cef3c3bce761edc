"""Airflow Assets for container images, so downstream DAGs can be scheduled on a new image.

Push and promote operators emit an event on ``image_asset(repository)`` with the digest in its extra:

    @dag(schedule=[image_asset("acme/app")])
    def deploy(): ...   # context["triggering_asset_events"][asset][-1].extra["digest"]
"""

from __future__ import annotations

from typing import Any

IMAGE_ASSET_SCHEME = "docker-image"


def image_asset(repository: str, registry: str = "docker.io") -> Any:
    """The Asset for ``registry/repository`` (URI ``docker-image://<registry>/<repository>``)."""
    from airflow.providers.common.compat.sdk import Asset

    return Asset(uri=f"{IMAGE_ASSET_SCHEME}://{registry}/{repository}", name=f"{registry}/{repository}")


def is_image_asset(outlet: Any) -> bool:
    return str(getattr(outlet, "uri", "")).startswith(f"{IMAGE_ASSET_SCHEME}://")
