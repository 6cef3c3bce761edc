"""The connection form as Airflow draws it: no field starts at a default (it would be saved into every
connection's Extra), the placeholders show the provider's defaults, and an empty form means exactly those."""

from __future__ import annotations

from airflow_provider_dockerhub.client.core.config import ClientConfig
from airflow_provider_dockerhub.get_provider_info import CONN_FIELDS, DEFAULT_PLACEHOLDERS
from airflow_provider_dockerhub.hooks.dockerhub import config_from_connection


def test_no_connection_field_has_a_default_that_the_form_would_save() -> None:
    assert [name for name, field in CONN_FIELDS.items() if "default" in field["schema"]] == []


def test_the_form_airflow_builds_starts_every_extra_field_empty() -> None:
    from airflow.providers_manager import ProvidersManager

    widgets = {
        name: widget.field
        for name, widget in ProvidersManager().connection_form_widgets.items()
        if name.startswith("extra__dockerhub__")
    }
    assert set(widgets) == {f"extra__dockerhub__{name}" for name in CONN_FIELDS}
    assert {name: field["value"] for name, field in widgets.items() if field["value"] is not None} == {}
    placeholders = ProvidersManager().field_behaviours["dockerhub"]["placeholders"]
    assert placeholders["extra__dockerhub__hub_url"] == "https://hub.docker.com"


def test_placeholders_are_the_defaults_an_empty_form_gets() -> None:
    defaults = ClientConfig.from_fields(None, None, {})
    for name, shown in DEFAULT_PLACEHOLDERS.items():
        value = getattr(defaults, name)
        assert str(value).lower().removesuffix(".0") == shown, name
    # What the UI saves for fields left empty: null or "", both meaning the default.
    saved = {name: None for name in CONN_FIELDS} | {"verify": "", "timeout": "", "registry_url": ""}
    assert config_from_connection(None, None, saved) == config_from_connection(None, None, {})
