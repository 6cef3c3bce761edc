"""DockerHubScimSyncOperator: make Docker Hub's SCIM users match an identity provider's export, safely.

Two tasks make the reviewed plan the applied plan: a dry run writes the plan (JSON) to object storage and returns
its sha256; the apply task is pinned to that file and hash and applies exactly those changes, or refuses. Every
run writes a report (each change per user, with its outcome) next to the plan, and returns the same list in XCom
while it is small.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_dockerhub.operators.base import DockerHubBaseOperator

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context, ObjectStoragePath

    from airflow_provider_dockerhub.client.hub.scim import ApplyReport
    from airflow_provider_dockerhub.client.hub.scim_sync import DesiredUser, Scope, SyncPlan

# Beyond this many changes XCom carries the counts and the report's path, not the list (XCom is small).
XCOM_CHANGES = 100
REPORT_FORMAT = "airflow-provider-dockerhub/scim-report"


def storage_path(source: Any) -> ObjectStoragePath:
    """An ObjectStoragePath from itself, a URL (``s3://…``, ``file://…``) or a local path."""
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    if isinstance(source, ObjectStoragePath):
        return source
    text = str(source)
    return ObjectStoragePath(text if "://" in text else f"file://{text}")


def read_bytes(source: Any) -> tuple[bytes, str]:
    """Bytes and file suffix of an ObjectStoragePath, or of a path/URL string."""
    path = storage_path(source)
    return path.read_bytes(), path.suffix.lower().lstrip(".")


def read_text(source: Any) -> tuple[str, str]:
    """Text (``utf-8-sig``: an Excel BOM is dropped) and file suffix of a path or URL."""
    data, suffix = read_bytes(source)
    return data.decode("utf-8-sig"), suffix


def write_bytes(target: Any, data: bytes) -> str:
    path = storage_path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


class DockerHubScimSyncOperator(DockerHubBaseOperator):
    """Sync SCIM users (by ``userName``) to a desired list: create, update names, reactivate, deactivate.

    Input (one of):

    :param source: an ObjectStoragePath or path/URL of an IdP export: CSV (Okta, Entra ID, Google Workspace, or
        this provider's ``userName,givenName,familyName,active``) or JSON (a SCIM ListResponse, or a list of
        objects). See docs/idp-exports.md.
    :param users: the desired users as a list of dicts (``userName`` …) instead, e.g. from XCom.
    :param idp: ``okta``, ``entra``, ``google``, ``scim``, ``native``; by default recognised from the header.
    :param column_map: for any other CSV: ``{"user_name": "Work Email", "status": "State", ...}``.
    :param status_values: extra status vocabulary, ``{"Terminated": False}``.
    :param source_format: ``csv`` or ``json``; by default from the file suffix.

    Scope and guards (checked before any change; exceeding one fails the task with nothing changed):

    :param managed_domains: only users with these email domains are managed; others are never touched.
    :param protected_users: userNames never deactivated (service accounts, break-glass admins).
    :param max_deactivations: a count (int), a fraction of the active users in scope (float < 1), or
        ``{"count": n, "fraction": f}`` (both hold). A fraction never rounds to zero: ``max(1, ceil(f * n))``.
    :param max_creations: the same for creations (each takes a paid seat); ``None``: no limit.
    :param renames: ``report`` (a probable rename, same person under a new email, is applied as create +
        deactivate and listed) or ``hold`` (both are kept back for review).

    Plan, pin and report:

    :param dry_run: compute the plan and write it to ``plan_path``; change nothing.
    :param plan_path: where the dry run writes the plan; with ``plan_sha256``, the plan an apply is pinned to.
    :param plan_sha256: the hash the dry run returned. A pinned apply refuses, before any change, if the file's
        hash differs or if the live users drifted from what the plan was computed against (a change whose
        target state is already there counts as done, so a retried apply completes the rest).
    :param report_path: where to write the per-user report; by default ``<plan>.report.json`` next to the plan.
    :param allow_deactivation: deactivating is destructive: it needs this **and** the connection's
        ``allow_destructive`` (every change needs the latter).

    Teams (optional):

    :param team_map: IdP group -> Hub team, ``{"Engineering": "developers"}``: each mapped team is made to hold
        exactly the active managed users whose groups map to it (groups come from the export's groups column or
        a SCIM ListResponse's ``groups``). Members the sync does not manage are never touched.
    :param team_org: the organization of the teams; by default the connection's ``namespace``.
    :param allow_team_removal: removing a membership needs this **and** ``allow_destructive``.

    Cost: one listing pass plus one request per change (a 409 on a create adds one lookup). Deactivations are
    applied first and every change independently: a failed change does not stop the others, and the task fails
    at the end listing each failed user.
    """

    template_fields: Sequence[str] = (
        "source",
        "users",
        "dockerhub_conn_id",
        "plan_path",
        "plan_sha256",
        "report_path",
        "managed_domains",
        "protected_users",
    )

    def __init__(
        self,
        *,
        source: Any = None,
        users: list[dict[str, Any]] | None = None,
        source_format: str | None = None,
        idp: str | None = None,
        column_map: Mapping[str, str] | None = None,
        status_values: Mapping[str, bool] | None = None,
        dry_run: bool = False,
        plan_path: Any = None,
        plan_sha256: str | None = None,
        report_path: Any = None,
        managed_domains: Collection[str] = (),
        protected_users: Collection[str] = (),
        max_deactivations: Any = 0.1,
        max_creations: Any = None,
        renames: str = "report",
        allow_deactivation: bool = False,
        team_map: Mapping[str, str] | None = None,
        team_org: str | None = None,
        allow_team_removal: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        pinned = plan_sha256 is not None
        if pinned and (source is not None or users is not None):
            raise ValueError("a pinned apply (plan_sha256) applies the plan file: give no source or users")
        if not pinned and (source is None) == (users is None):
            raise ValueError("give exactly one of source or users (or plan_path and plan_sha256 to apply a plan)")
        if pinned and (dry_run or plan_path is None):
            raise ValueError("plan_sha256 pins an apply to plan_path: give plan_path, and not dry_run")
        self.source = source
        self.users = users
        self.source_format = source_format
        self.idp = idp
        self.column_map = dict(column_map) if column_map else None
        self.status_values = dict(status_values) if status_values else None
        self.dry_run = dry_run
        self.plan_path = plan_path
        self.plan_sha256 = plan_sha256
        self.report_path = report_path
        self.managed_domains = list(managed_domains)
        self.protected_users = list(protected_users)
        self.max_deactivations = max_deactivations
        self.max_creations = max_creations
        self.renames = renames
        self.allow_deactivation = allow_deactivation
        self.team_map = dict(team_map) if team_map else None
        self.team_org = team_org
        self.allow_team_removal = allow_team_removal

    # -- input ------------------------------------------------------------------------------------------------

    def scope(self) -> Scope:
        from airflow_provider_dockerhub.client.hub.scim_sync import Limit, Scope

        Limit.of(self.max_deactivations, "max_deactivations")  # like the users: validated before any request
        Limit.of(self.max_creations, "max_creations")
        return Scope.of(self.managed_domains, self.protected_users)

    def desired(self) -> list[DesiredUser]:
        from airflow_provider_dockerhub.client.hub.idp import parse_export
        from airflow_provider_dockerhub.client.hub.scim_sync import desired_users

        if self.users is not None:
            return desired_users(self.users)
        data, suffix = read_bytes(self.source)
        fmt = (self.source_format or suffix or "csv").lower()
        return parse_export(data, fmt=fmt, idp=self.idp, column_map=self.column_map, status_values=self.status_values)

    def _meta(self, scope: Scope) -> dict[str, Any]:
        return {
            "managed_domains": sorted(scope.managed_domains),
            "protected_users": sorted(scope.protected_users),
            "max_deactivations": self.max_deactivations,
            "max_creations": self.max_creations,
            "renames": self.renames,
            "hub_url": self.hook.get_config().hub_url,
        }

    # -- run --------------------------------------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_dockerhub.client.hub.scim_sync import (
            SyncGuardError,
            check_guards,
            plan_bytes,
            plan_sync,
            sha256_hex,
        )

        scope = self.scope()
        pinned = self.plan_sha256 is not None
        desired = None if pinned else self.desired()
        try:
            scim = self.hook.scim
            if pinned:
                plan, digest = self.pinned_plan(scim, scope)
            else:
                current = list(scim.list_users())  # one listing pass, for the users and their teams
                plan = plan_sync(desired or [], current, scope, renames=self.renames)
                if self.team_map:
                    plan.team_changes = self.plan_teams(desired or [], current, scope)
                digest = None
            self.log.info("%s", plan.describe())
            try:
                check_guards(plan, self.max_creations, self.max_deactivations)
            except SyncGuardError as err:
                raise AirflowFailException(str(err)) from err
            if self.dry_run:
                result: dict[str, Any] = {"dry_run": True, "applied": False}
                if self.plan_path is not None:
                    data = plan_bytes(plan.to_document(**self._meta(scope)))
                    result["plan_path"] = write_bytes(self.plan_path, data)
                    result["plan_sha256"] = sha256_hex(data)
                    self.log.info("Plan written to %s (sha256 %s)", result["plan_path"], result["plan_sha256"])
                entries = [{"user_name": c.user_name, "kind": c.kind, "detail": c.detail} for c in plan.changes]
                entries += [{"user_name": t.user_name, "kind": t.kind, "team": t.team} for t in plan.team_changes]
                return self.finish(plan, entries, result)
            if plan.of("deactivate") and not self.allow_deactivation:
                raise AirflowFailException(
                    f"the plan deactivates {len(plan.of('deactivate'))} users: pass allow_deactivation=True to "
                    "allow it (dry_run=True to review); nothing was changed"
                )
            if any(t.kind == "team_remove" for t in plan.team_changes) and not self.allow_team_removal:
                raise AirflowFailException(
                    "the plan removes team memberships: pass allow_team_removal=True to allow it (dry_run=True to "
                    "review); nothing was changed"
                )
            return self.apply(scim, plan, digest)
        finally:
            self.hook.close()

    def _org(self) -> str:
        org = self.team_org or self.hook.get_config().namespace
        if not org:
            raise AirflowFailException(
                "team_map needs the organization: pass team_org= or set the connection's namespace"
            )
        return org

    def plan_teams(self, desired: list[DesiredUser], current: list[Any], scope: Scope) -> list[Any]:
        """The mapped teams' memberships to change (one member listing per mapped team)."""
        from airflow_provider_dockerhub.client.hub.scim_teams import check_team_map, plan_teams

        team_map = check_team_map(self.team_map)
        org = self._org()
        members = {team: list(self.hook.hub.list_group_members(org, team)) for team in sorted(set(team_map.values()))}
        return plan_teams(desired, current, members, team_map, scope)

    def pinned_plan(self, scim: Any, scope: Scope) -> tuple[SyncPlan, str]:
        """The plan file, if its hash is the pinned one and it still applies to the live users."""
        import json

        from airflow_provider_dockerhub.client.hub.scim_sync import SyncPlan, drift, sha256_hex

        data, _ = read_bytes(self.plan_path)
        digest = sha256_hex(data)
        if digest != str(self.plan_sha256).strip().lower():
            raise AirflowFailException(
                f"the plan at {self.plan_path} has sha256 {digest}, not the pinned {self.plan_sha256}: it is not the "
                "plan that was reviewed; nothing was changed"
            )
        plan = SyncPlan.from_document(json.loads(data))
        targets: list[tuple[str, str]] = [(c.kind, c.user_name) for c in plan.changes]
        targets += [(t.kind, t.user_name) for t in plan.team_changes]
        outside = [
            user
            for kind, user in targets
            if not scope.manages(user) or (kind in ("deactivate", "team_remove") and scope.protects(user))
        ]
        if outside:
            raise AirflowFailException(
                f"the pinned plan changes users this task's managed_domains/protected_users exclude: {outside}"
            )
        reasons, done = drift(plan, scim.list_users())
        if reasons:
            raise AirflowFailException(
                "the live SCIM users drifted from the pinned plan, which no longer applies (run the dry run "
                "again); nothing was changed:\n  " + "\n  ".join(reasons)
            )
        if done:
            self.log.info("Already applied (an earlier try): %s", ", ".join(sorted(done)))
            plan.changes = [c for c in plan.changes if c.user_name not in done]
        return plan, digest

    def apply(self, scim: Any, plan: SyncPlan, digest: str | None) -> dict[str, Any]:
        from airflow_provider_dockerhub.client.hub.scim import ScimSyncError

        # A plan with changes needs allow_destructive, checked before its first request.
        try:
            report = scim.apply_plan(
                plan,
                allow_deactivation=self.allow_deactivation,
                allow_team_removal=self.allow_team_removal,
                org=self._org() if plan.team_changes else None,
            )
        except ScimSyncError as err:
            path = self.write_report(plan, err.report, digest)
            self.log.error("%s", err)
            if err.fatal is not None:
                raise err.fatal from err  # the cause decides (a refused SCIM token is final, a network error not)
            if any(r.status is None or r.status >= 500 or r.status == 429 for r in err.report.failures()):
                raise  # something a retry may fix; a retry re-plans, and what was applied is not redone
            raise AirflowFailException(f"{err}\nreport: {path}") from err
        result: dict[str, Any] = {"dry_run": False, "applied": True, **report.counts()}
        if digest:
            result["plan_sha256"] = digest
        path = self.write_report(plan, report, digest)
        if path:
            result["report_path"] = path
        return self.finish(plan, [r.as_dict() for r in report.results], result)

    # -- output -----------------------------------------------------------------------------------------------

    def _report_target(self) -> Any:
        if self.report_path is not None:
            return self.report_path
        if self.plan_path is not None:
            plan = storage_path(self.plan_path)
            return plan.with_name(f"{plan.stem}.report.json")
        return None

    def write_report(self, plan: SyncPlan, report: ApplyReport | None, digest: str | None) -> str | None:
        import json

        target = self._report_target()
        if target is None:
            return None
        body = {
            "format": REPORT_FORMAT,
            "dry_run": report is None,
            "plan_sha256": digest,
            "plan": plan.counts(),
            "applied": report.counts() if report else None,
            "results": [r.as_dict() for r in report.results]
            if report
            else [c.as_dict() for c in plan.changes] + [t.as_dict() for t in plan.team_changes],
            "protected": plan.protected,
            "renames": plan.renames,
            "held": [c.as_dict() for c in plan.held],
        }
        path = write_bytes(target, (json.dumps(body, indent=2, sort_keys=True) + "\n").encode())
        self.log.info("Report written to %s", path)
        return path

    def finish(self, plan: SyncPlan, entries: list[dict[str, Any]], result: dict[str, Any]) -> dict[str, Any]:
        """XCom: the plan's counts, the flags, and every change per user while the list is small; beyond
        :data:`XCOM_CHANGES` the counts and the report's path."""
        if result["dry_run"]:
            path = self.write_report(plan, None, result.get("plan_sha256"))
            if path:
                result["report_path"] = path
        counts = plan.counts()
        applied = {k: result.pop(k) for k in ("create", "update", "reactivate", "deactivate", "failed") if k in result}
        out: dict[str, Any] = {**counts, **result}
        if applied:
            out["done"] = applied
        # Named apart from the counts of the same things ("renames", "protected").
        for name, values in (("rename_pairs", plan.renames), ("protected_users", plan.protected)):
            if len(values) <= XCOM_CHANGES:
                out[name] = values  # else the counts say how many, and the report lists them
        if len(entries) <= XCOM_CHANGES:
            out["changes"] = entries
        else:
            out["changes_omitted"] = len(entries)
            if "report_path" not in out:
                self.log.warning("%d changes: not listed in XCom; set report_path to keep the list", len(entries))
        return out
