"""Provider metadata for Airflow's ProvidersManager (the ``apache_airflow_provider`` entry point).

The connection form is declarative (``conn-fields`` / ``ui-field-behaviour``, Airflow 3.2+), so the API server
never imports the hook to draw it.

No field has a schema ``default``: Airflow's form starts a field at its default and saves it into the connection's
Extra, so every connection saved from the UI would pin today's defaults (a later release's better default, or a
Docker Hub URL change, would never reach it). The defaults are shown as placeholders instead, and an empty field
means "the provider's default" (``ClientConfig``).
"""

from __future__ import annotations

from typing import Any

CONN_FIELDS: dict[str, dict[str, Any]] = {
    "namespace": {
        "label": "Default namespace / organization",
        "description": "Used when an operator does not name one.",
        "schema": {"type": ["string", "null"]},
    },
    "hub_url": {
        "label": "Docker Hub API URL",
        "schema": {"type": ["string", "null"], "format": "url"},
    },
    "registry_url": {
        "label": "Registry URL",
        "description": "Registry HTTP API v2 base URL (Docker Hub's or any OCI registry).",
        "schema": {"type": ["string", "null"], "format": "url"},
    },
    "scout_url": {
        "label": "Docker Scout API URL",
        "schema": {"type": ["string", "null"], "format": "url"},
    },
    "scim_token": {
        "label": "SCIM token",
        "description": "Bearer token for the SCIM 2.0 API (Admin Console > SSO & SCIM).",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "verify": {
        "label": "TLS verify",
        "description": "true, false, or the path of a CA bundle.",
        "schema": {"type": ["string", "null"]},
    },
    "registry_ca_bundle": {
        "label": "Registry CA bundle",
        "description": "Path of a PEM CA bundle trusted for the registry (and token realms on its host) in addition "
        "to the default roots; Docker Hub and Scout keep the default roots.",
        "schema": {"type": ["string", "null"]},
    },
    "timeout": {
        "label": "Timeout (seconds)",
        "description": "Read/write/pool timeout of every request.",
        "schema": {"type": ["number", "null"], "minimum": 0.001},
    },
    "connect_timeout": {
        "label": "Connect timeout (seconds)",
        "schema": {"type": ["number", "null"], "minimum": 0.001},
    },
    "max_retries": {
        "label": "Max retries",
        "description": "Retries of a failed request (5xx, 429, network errors) before the task sees the error.",
        "schema": {"type": ["integer", "null"], "minimum": 0},
    },
    "max_retry_wait": {
        "label": "Max total retry wait (seconds)",
        "schema": {"type": ["number", "null"], "minimum": 0},
    },
    "allow_destructive": {
        "label": "Allow writes and deletes",
        "description": "Pushes, tag moves and deletes are refused unless this is true.",
        "schema": {"type": ["boolean", "null"]},
    },
    "trusted_realms": {
        "label": "Extra trusted token realms",
        "description": "Comma-separated hosts or URLs that may receive the credentials as token realms.",
        "schema": {"type": ["string", "null"]},
    },
}


# What an empty field means: the ClientConfig defaults (tests/packaging/test_provider_info.py keeps them equal).
DEFAULT_PLACEHOLDERS: dict[str, str] = {
    "hub_url": "https://hub.docker.com",
    "registry_url": "https://registry-1.docker.io",
    "scout_url": "https://api.scout.docker.com",
    "verify": "true",
    "timeout": "30",
    "connect_timeout": "10",
    "max_retries": "4",
    "max_retry_wait": "120",
}


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-dockerhub",
        "name": "Docker Hub",
        "description": "Docker Hub management API, Registry HTTP API v2 and Docker Scout for Apache Airflow.",
        "integrations": [
            {
                "integration-name": "Docker Hub",
                "external-doc-url": "https://docs.docker.com/reference/api/hub/latest/",
                "tags": ["software"],
            }
        ],
        "hooks": [
            {
                "integration-name": "Docker Hub",
                "python-modules": ["airflow_provider_dockerhub.hooks.dockerhub"],
            }
        ],
        "operators": [
            {
                "integration-name": "Docker Hub",
                "python-modules": [
                    "airflow_provider_dockerhub.operators.registry",
                    "airflow_provider_dockerhub.operators.hub",
                    "airflow_provider_dockerhub.operators.scim",
                    "airflow_provider_dockerhub.operators.policy",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "Docker Hub",
                "python-modules": [
                    "airflow_provider_dockerhub.sensors.registry",
                    "airflow_provider_dockerhub.sensors.scout",
                ],
            }
        ],
        "triggers": [
            {
                "integration-name": "Docker Hub",
                "python-modules": [
                    "airflow_provider_dockerhub.triggers.registry",
                    "airflow_provider_dockerhub.triggers.scout",
                ],
            }
        ],
        "extra-links": [
            "airflow_provider_dockerhub.operators.policy.DockerHubImageLink",
            "airflow_provider_dockerhub.operators.links.DockerHubTransferImageLink",
        ],
        "connection-types": [
            {
                "connection-type": "dockerhub",
                "hook-class-name": "airflow_provider_dockerhub.hooks.dockerhub.DockerHubHook",
                "hook-name": "Docker Hub",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port", "host"],
                    "relabeling": {
                        "login": "Docker ID or organization",
                        "password": "Password or access token",
                    },
                    "placeholders": {
                        "login": "my-docker-id (empty for anonymous)",
                        "password": "dckr_pat_... or dckr_oat_...",
                        **DEFAULT_PLACEHOLDERS,
                    },
                },
                "conn-fields": CONN_FIELDS,
            }
        ],
    }
