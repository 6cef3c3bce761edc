"""Deploy on a new image: scheduled on the image Asset that the release gate's promotion emits.

Shows: scheduling on ``image_asset(repository)`` and reading the digest from the triggering Asset event's
extra, so a deploy always uses the exact digest that passed the gate (never a moving tag).
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_dockerhub.assets import image_asset

# The registry the release gate promotes to, as image references name it (docker.io for Docker Hub). Read from the
# environment at parse time (cheap, no metadata-DB call); the demo points it at its local registry.
APP_REGISTRY = os.environ.get("DOCKERHUB_EXAMPLE_REGISTRY", "docker.io")
APP_IMAGE = image_asset("acme/app", registry=APP_REGISTRY)

with DAG(
    dag_id="dockerhub_deploy_on_new_image",
    schedule=[APP_IMAGE],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["dockerhub", "example"],
    doc_md=__doc__,
):

    @task
    def deploy(triggering_asset_events: Any = None) -> dict[str, Any]:
        event = triggering_asset_events[APP_IMAGE][-1]
        digest = event.extra["digest"]
        reference = f"{event.extra['repository']}@{digest}"
        # A real deployment would roll this digest out (kubectl set image, a Helm value, a GitOps commit...).
        print(f"deploying {reference} (tags {event.extra.get('tags')})")
        return {"deployed": reference}

    deploy()
