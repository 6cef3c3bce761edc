"""Scheduled Docker Hub administration: audit-log export, and idempotent "ensure" operators with dry runs.

Every operator here is safe to re-run: it reads the current state, computes what differs, logs it, and (unless
``dry_run``) changes only that.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_dockerhub.client.core.timeparse import parse_timestamp
from airflow_provider_dockerhub.operators.base import DockerHubBaseOperator

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context, ObjectStoragePath


def as_storage_path(target: Any) -> ObjectStoragePath:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    if isinstance(target, ObjectStoragePath):
        return target
    text = str(target)
    return ObjectStoragePath(text if "://" in text else f"file://{text}")


def _utc(value: Any) -> datetime:
    if isinstance(value, str):
        value = parse_timestamp(value, assume_utc=True) or value
    if not isinstance(value, datetime):
        raise AirflowFailException(f"expected a datetime, got {value!r}")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class ObjectStorageExportStore:
    """:class:`~airflow_provider_dockerhub.client.hub.audit_export.ExportStore` on an ObjectStoragePath root
    (local, ``s3://``, ``gs://``...): each write is a temporary object moved into place, so a reader (or the next
    try, on another worker) sees the old object or the whole new one."""

    def __init__(self, root: ObjectStoragePath) -> None:
        self.root = root

    def _temporary(self, target: ObjectStoragePath) -> ObjectStoragePath:
        target.parent.mkdir(parents=True, exist_ok=True)
        return target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"

    def read_text(self, name: str) -> str | None:
        path = self.root / name
        return path.read_text() if path.exists() else None

    def write_text(self, name: str, text: str) -> None:
        target = self.root / name
        temporary = self._temporary(target)
        try:
            temporary.write_text(text)
            temporary.move(target)
        finally:
            if temporary.exists():
                temporary.unlink()

    def assemble(self, name: str, parts: list[str]) -> tuple[str, int]:
        target = self.root / name
        temporary = self._temporary(target)
        digest, size = hashlib.sha256(), 0
        try:
            with temporary.open("wb") as out:
                for part in parts:
                    with (self.root / part).open("rb") as chunk:
                        while block := chunk.read(1 << 20):
                            digest.update(block)
                            size += len(block)
                            out.write(block)
            temporary.move(target)
        finally:
            if temporary.exists():
                temporary.unlink()
        return digest.hexdigest(), size

    def delete_tree(self, name: str) -> None:
        path = self.root / name
        if path.exists():
            path.rmdir(recursive=True)


# Template names that differ from run to run: a root built from them would give every run a fresh watermark.
_PER_RUN = re.compile(
    r"\{[{%][^}]*\b(ds|ds_nodash|ts|ts_nodash|ts_nodash_with_tz|data_interval_start|data_interval_end|logical_date|"
    r"execution_date|run_id|dag_run|ti|task_instance|prev_\w+|next_\w+)\b"
)


def _duration(value: Any, name: str) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    raise ValueError(f"{name} must be a timedelta or a number of seconds, got {value!r}")


class DockerHubAuditLogExportOperator(DockerHubBaseOperator):
    """Export an account's audit events as JSON Lines, complete across runs, with a watermark next to the output.

    Each run exports ``[last exported event - lookback, end of the data interval)``: events ingested late (dated in
    the past) and the events of intervals that never ran (``catchup=False``, a paused DAG) land in a later run's
    partition, and the events already exported in the overlap are recognised by their content and left out, so
    every event is exported exactly once. ``catchup`` does not decide completeness.

    :param destination: the export's root (an ObjectStoragePath or path/URL: local, ``s3://``, ``gs://``...).
        It holds ``_watermark.json``, one partition per run and its manifest. It must be the same for every run:
        templated from a Variable is fine, from the run (``ds``, ``data_interval_*``, ``run_id``...) is refused
        when the DAG is parsed, since each run would start a new watermark. A path ending in ``.jsonl`` names the
        partition file itself, in its directory's root, and is refused by the next run instead of overwritten.
    :param partition: this run's partition name, relative to the root (templated; default
        ``<account>-<from>--<to>.jsonl``, the window it covers). An existing partition another run wrote is an
        error: outputs are never silently overwritten.
    :param account: organization or user whose audit log to read (default: the connection's ``namespace``).
    :param lookback: how far before the newest exported event each run reads again, for events ingested late
        (timedelta or seconds; default one day). Events arriving later than that are not exported.
    :param retention: how long Docker Hub keeps audit events (default 90 days, Docker's documented three
        months); a window reaching further back is logged as a warning and reported in the result.
    :param start: / :param end: override the data interval (``start`` only matters for the first run).
    :param pages_per_part: pages written together into one in-flight part (default 10): what a retry resumes
        after, against one object write per part.

    Pages are written as they arrive (``_inflight/<run>/``, ``pages_per_part`` at a time) and a retry of the same
    run resumes after the last written part; the partition is then assembled atomically (temporary object, then
    move), its manifest written (window, count, first/last event time, SHA-256), and the watermark advanced
    last. Returns the manifest's fields: ``{count, path, manifest, window, first_event, last_event, sha256,
    resumed_parts, retention_warning}``.
    """

    template_fields: Sequence[str] = (
        "destination",
        "account",
        "partition",
        "start",
        "end",
        "action",
        "actor",
        "dockerhub_conn_id",
    )

    def __init__(
        self,
        *,
        destination: Any,
        account: str | None = None,
        partition: str | None = None,
        start: Any = None,
        end: Any = None,
        action: str | None = None,
        actor: str | None = None,
        page_size: int = 100,
        lookback: timedelta | float = timedelta(days=1),
        retention: timedelta | float = timedelta(days=90),
        pages_per_part: int = 10,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if _PER_RUN.search(str(destination)):
            raise ValueError(
                "destination is the export's root and holds its watermark: it must be the same for every run, "
                f"but {destination!r} changes with the run. Template the partition= name instead (e.g. "
                'partition="{{ data_interval_start | ds }}.jsonl"); a Variable in the root is fine.'
            )
        self.destination = destination
        self.account = account
        self.partition = partition
        self.start = start
        self.end = end
        self.action = action
        self.actor = actor
        self.page_size = page_size
        self.lookback = _duration(lookback, "lookback")
        self.retention = _duration(retention, "retention")
        if type(pages_per_part) is not int or pages_per_part < 1:
            raise ValueError(f"pages_per_part must be a positive integer, got {pages_per_part!r}")
        self.pages_per_part = pages_per_part

    def interval(self, context: Context) -> tuple[datetime, datetime]:
        start = self.start or context.get("data_interval_start")
        end = self.end or context.get("data_interval_end")
        if start is None or end is None:
            raise AirflowFailException("no data interval: schedule the DAG or pass start and end")
        start, end = _utc(start), _utc(end)
        if end <= start:
            raise AirflowFailException(
                f"empty interval [{start}, {end}): schedule the DAG with a data-interval timetable (e.g. "
                "CronDataIntervalTimetable), or pass start and end"
            )
        return start, end

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_dockerhub.client.hub.audit_export import AuditExport, ExportError

        start, end = self.interval(context)
        account = self.account or self.hook.get_config().namespace
        if not account:
            raise AirflowFailException("no account: pass account= or set the connection's namespace extra")
        root = as_storage_path(self.destination)
        partition = self.partition
        if partition is None and str(self.destination).endswith(".jsonl"):
            root, partition = root.parent, root.name
        job = AuditExport(
            self.hook.hub,
            ObjectStorageExportStore(root),
            account,
            lookback=self.lookback,
            retention=self.retention,
            page_size=self.page_size,
            action=self.action,
            actor=self.actor,
            partition=partition,
            pages_per_part=self.pages_per_part,
            on_page=lambda pages, count: self.log.debug("%d pages written, %d events", pages, count),
        )
        try:
            result = job.execute(start, end)
        except ExportError as exc:
            raise AirflowFailException(str(exc)) from exc
        finally:
            self.hook.close()
        xcom = result.as_xcom()
        if result.path is None or result.manifest is None:
            self.log.info("nothing to export for %s: [%s, %s) was covered by earlier runs", account, *xcom["window"])
            return xcom
        self.log.info(
            "exported %d audit events of %s for [%s, %s) to %s (sha256 %s%s)",
            result.count,
            account,
            *xcom["window"],
            root / result.path,
            result.sha256,
            f", resumed after {result.resumed_parts} written parts" if result.resumed_parts else "",
        )
        xcom["path"], xcom["manifest"] = str(root / result.path), str(root / result.manifest)
        return xcom


class DockerHubEnsureRepositoryOperator(DockerHubBaseOperator):
    """Ensure ``namespace/name`` exists with the given settings; creates it if missing, sets immutable-tag rules.

    The Hub API cannot change an existing repository's privacy or description: a difference there is reported
    as drift (and fails the task when ``fail_on_drift``). Returns ``{"created", "changed", "drift"}``.
    """

    template_fields: Sequence[str] = ("namespace", "name", "description", "dockerhub_conn_id")

    def __init__(
        self,
        *,
        name: str,
        namespace: str | None = None,
        is_private: bool = True,
        description: str | None = None,
        immutable_tags: Sequence[str] | None = None,
        dry_run: bool = False,
        fail_on_drift: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.namespace = namespace
        self.is_private = is_private
        self.description = description
        self.immutable_tags = immutable_tags
        self.dry_run = dry_run
        self.fail_on_drift = fail_on_drift

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_dockerhub.client.core.errors import NotFoundError

        hub = self.hook.hub
        namespace = self.namespace or self.hook.get_config().namespace
        if not namespace:
            raise AirflowFailException("no namespace: pass namespace= or set the connection's namespace extra")
        result: dict[str, Any] = {
            "repository": f"{namespace}/{self.name}",
            "created": False,
            "changed": [],
            "drift": {},
            "dry_run": self.dry_run,
        }
        try:
            try:
                current = hub.get_repository(namespace, self.name)
            except NotFoundError:
                current = None
            if current is None:
                result["created"] = True
                if not self.dry_run:
                    current = hub.create_repository(
                        namespace, self.name, description=self.description, is_private=self.is_private
                    )
            else:
                if current.is_private != self.is_private:
                    result["drift"]["is_private"] = {"have": current.is_private, "want": self.is_private}
                if self.description is not None and (current.description or "") != self.description:
                    result["drift"]["description"] = {"have": current.description, "want": self.description}
            if self.immutable_tags is not None:
                settings = current.immutable_tags_settings if current is not None else None
                want_rules = list(self.immutable_tags)
                have = (settings.enabled, list(settings.rules)) if settings else (False, [])
                if have != (bool(want_rules), want_rules):
                    result["changed"].append("immutable_tags")
                    if not self.dry_run:
                        hub.update_immutable_tags(namespace, self.name, enabled=bool(want_rules), rules=want_rules)
        finally:
            self.hook.close()
        self.log.info("ensure repository %s: %s", result["repository"], result)
        if result["drift"] and self.fail_on_drift:
            raise AirflowFailException(
                f"{result['repository']} differs in what the API cannot change: {result['drift']}"
            )
        return result


class DockerHubEnsureTeamMembersOperator(DockerHubBaseOperator):
    """Ensure a team (group) of ``org`` has exactly ``members``: adds the missing; removes the extra only with
    ``allow_removal=True`` (and the connection's ``allow_destructive``). Creates the team if missing.
    Returns ``{"added", "removed", "kept", "dry_run"}``."""

    template_fields: Sequence[str] = ("org", "team", "members", "dockerhub_conn_id")

    def __init__(
        self,
        *,
        team: str,
        members: Sequence[str],
        org: str | None = None,
        allow_removal: bool = False,
        dry_run: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.org = org
        self.team = team
        self.members = members
        self.allow_removal = allow_removal
        self.dry_run = dry_run

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_dockerhub.client.core.errors import NotFoundError
        from airflow_provider_dockerhub.client.hub.planners import plan_team_members, wanted_members

        hub = self.hook.hub
        org = self.org or self.hook.get_config().namespace
        if not org:
            raise AirflowFailException("no org: pass org= or set the connection's namespace extra")
        wanted = wanted_members(self.members)  # templated: "a,b" is a list too
        try:
            try:
                hub.get_group(org, self.team)
                current = [m.username for m in hub.list_group_members(org, self.team)]
            except NotFoundError:
                current = []
                if not self.dry_run:
                    hub.create_group(org, self.team)
            plan = plan_team_members(wanted, current)
            if plan.removal_refused(allow_removal=self.allow_removal, dry_run=self.dry_run):
                raise AirflowFailException(
                    f"team {org}/{self.team} has {len(plan.remove)} members not in the list "
                    f"({', '.join(plan.remove)}): pass allow_removal=True to remove them; nothing was changed"
                )
            if not self.dry_run:
                for username in plan.add:
                    hub.add_group_member(org, self.team, username)
                for username in plan.remove:
                    hub.remove_group_member(org, self.team, username)
        finally:
            self.hook.close()
        result = {"added": plan.add, "removed": plan.remove, "kept": plan.kept, "dry_run": self.dry_run}
        self.log.info("ensure team %s/%s: %s", org, self.team, result)
        return result


class DockerHubAccessTokenReportOperator(DockerHubBaseOperator):
    """Report access tokens that are expired, expire within ``expiring_within_days``, or are unused (never used,
    or not for ``unused_for_days``). Personal tokens of the connection's user, or an organization's tokens when
    ``org`` is given. Read-only; ``fail_on_findings`` turns findings into a task failure (for alerting)."""

    template_fields: Sequence[str] = ("org", "dockerhub_conn_id")

    def __init__(
        self,
        *,
        org: str | None = None,
        expiring_within_days: int = 14,
        unused_for_days: int = 90,
        fail_on_findings: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.org = org
        self.expiring_within_days = expiring_within_days
        self.unused_for_days = unused_for_days
        self.fail_on_findings = fail_on_findings

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_dockerhub.client.hub.planners import TokenFacts, report_tokens

        now = datetime.now(UTC)
        try:
            listed = self.hook.hub.list_org_access_tokens(self.org) if self.org else self.hook.hub.list_access_tokens()
            tokens = [TokenFacts.of(t) for t in listed]
        finally:
            self.hook.close()
        report = report_tokens(
            tokens, now=now, expiring_within_days=self.expiring_within_days, unused_for_days=self.unused_for_days
        )
        summary = report.summary()
        self.log.info("access tokens: %d checked, %s", report.checked, summary)
        if self.fail_on_findings and any(summary.values()):
            raise AirflowFailException(f"access token findings: {summary}")
        return report.as_result()
