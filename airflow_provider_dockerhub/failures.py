"""Which failures Airflow should not retry, decided once for every operator and sensor of the provider.

A task with ``retries=2`` that fails on a rejected secret posts that secret twice more (Docker Hub locks the
username after repeated failures), and one that fails on bad input or a refused write fails the same way each
try. These errors become ``AirflowFailException`` (the task fails at once, its retries unused); everything else,
network failures, 5xx and 429 above all, keeps Airflow's retries.

| error (``airflow_provider_dockerhub.client``) | why a retry cannot help |
|---|---|
| ``AuthenticationError`` (incl. a rejected Hub mint) | the credentials or the token were refused |
| ``PermissionDeniedError`` | the identity may not do this |
| ``DestructiveOperationRefused`` | the connection or the operator did not allow the write |
| ``InvalidInputError`` | an argument is invalid on its face; nothing was sent |
| ``ConfigurationError`` | the connection's settings are invalid |
| ``UntrustedRealmError`` | a credential would have gone somewhere it may not go |
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def is_permanent(error: BaseException) -> bool:
    """Whether ``error`` will repeat on every try of the task (see the module's table)."""
    from airflow_provider_dockerhub.client.core.errors import (
        AuthenticationError,
        ConfigurationError,
        DestructiveOperationRefused,
        InvalidInputError,
        PermissionDeniedError,
        UntrustedRealmError,
    )

    permanent = (
        AuthenticationError,
        PermissionDeniedError,
        DestructiveOperationRefused,
        InvalidInputError,
        ConfigurationError,
        UntrustedRealmError,
    )
    return isinstance(error, permanent)


_FAIL_FAST_TYPES: dict[type[BaseException], type[BaseException]] = {}


def as_task_failure(error: BaseException) -> BaseException:
    """``error`` as an instance of both its own class and ``AirflowFailException``: Airflow fails the task without
    retrying it, and code that catches the provider's typed error (a DAG's callback, a test) still catches it."""
    from airflow.providers.common.compat.sdk import AirflowFailException

    cls = type(error)
    combined = _FAIL_FAST_TYPES.get(cls)
    if combined is None:
        combined = type(
            cls.__name__, (cls, AirflowFailException), {"__module__": cls.__module__, "__doc__": cls.__doc__}
        )
        _FAIL_FAST_TYPES[cls] = combined
    failure = combined.__new__(combined, *error.args)
    failure.__dict__.update(error.__dict__)
    return failure


def fail_fast(method: F) -> F:
    """Wrap a task method so that a permanent error fails the task without its retries."""

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except Exception as exc:
            if not is_permanent(exc):
                raise
            raise as_task_failure(exc) from exc

    call.__dockerhub_fail_fast__ = True  # type: ignore[attr-defined]
    return call  # type: ignore[return-value]


def wrap_task_methods(cls: type, names: tuple[str, ...]) -> None:
    """Apply :func:`fail_fast` to the task methods ``cls`` itself defines (``__init_subclass__`` calls this)."""
    for name in names:
        method = cls.__dict__.get(name)
        if callable(method) and not getattr(method, "__dockerhub_fail_fast__", False):
            setattr(cls, name, fail_fast(method))
