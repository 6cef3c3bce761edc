"""Repositories, tags, tag immutability and group permissions. Not for production."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..http import Call, json_object, json_response, page_of
from ..state import REPO_ORDERINGS, HubError
from .base import HandlerBase


class RepositoryHandlers(HandlerBase):
    """``/v2/namespaces/{namespace}/repositories`` and below."""

    def _repo(self, call: Call, *, write: bool = False) -> Any:
        return self.state.find_repo(call.principal, call.params["namespace"], call.params["repository"], write=write)

    def _repo_list(self, call: Call) -> Response:
        ordering = call.query.get("ordering") or "name"
        if ordering not in REPO_ORDERINGS:
            raise HubError(
                400,
                "Invalid ordering value",
                fields={"ordering": ["Invalid ordering value. Must be one of: " + ", ".join(REPO_ORDERINGS)]},
            )
        namespace, name = call.params["namespace"], call.query.get("name")
        repos = self.state.list_repos(call.principal, namespace, name, ordering)

        def insert() -> list[Any]:  # insert_during_paging: a repository named to sort first by name
            self.state.seed_repos(namespace, 1, f"0-inserted-{self.state.next_id()}", False)
            return self.state.list_repos(call.principal, namespace, name, ordering)

        return json_response(page_of(call, repos, self.state.repo_list_json, strict=True, insert=insert))

    def _repo_create(self, call: Call) -> Response:
        body = json_object(call)
        repo = self.state.create_repo(
            call.user,
            call.params["namespace"],
            name=body.get("name"),
            body_namespace=body.get("namespace"),
            description=body.get("description"),
            full_description=body.get("full_description"),
            registry=body.get("registry"),
            is_private=body.get("is_private", False),
        )
        return json_response(self.state.repo_info_json(repo, call.principal), 201)

    def _repo_get(self, call: Call) -> Response:
        return json_response(self.state.repo_info_json(self._repo(call), call.principal))

    def _repo_head(self, call: Call) -> Response:
        self._repo(call)
        return Response(status_code=200)

    def _tags_list(self, call: Call) -> Response:
        repo = self._repo(call)
        tags = self.state.sorted_tags(repo)

        def insert() -> list[Any]:  # insert_during_paging: a tag pushed after every other one lists first
            newest = max((t.pushed_at for t in repo.tags.values()), default=self.clock())
            self.state.push_tag(repo, f"inserted-{self.state.next_id()}", newest + 1, repo.namespace, audit=False)
            return self.state.sorted_tags(repo)

        return json_response(page_of(call, tags, lambda t: self.state.tag_json(repo, t), strict=True, insert=insert))

    def _tags_head(self, call: Call) -> Response:
        if not self._repo(call).tags:
            raise HubError(404, "repository has no tags")
        return Response(status_code=200)

    def _tag(self, call: Call) -> tuple[Any, Any]:
        repo = self._repo(call)
        tag = repo.tags.get(call.params["tag"])
        if tag is None:
            raise HubError(404, f"tag {call.params['tag']!r} not found")
        return repo, tag

    def _tag_get(self, call: Call) -> Response:
        repo, tag = self._tag(call)
        return json_response(self.state.tag_json(repo, tag))

    def _tag_head(self, call: Call) -> Response:
        self._tag(call)
        return Response(status_code=200)

    def _immutable_patch(self, call: Call) -> Response:
        repo = self._repo(call, write=True)
        body = json_object(call)
        self.state.set_immutable(call.user, repo, body.get("immutable_tags"), body.get("immutable_tags_rules"))
        return json_response(self.state.repo_info_json(repo, call.principal))

    def _immutable_verify(self, call: Call) -> Response:
        repo = self._repo(call, write=True)
        return json_response({"tags": self.state.verify_immutable(repo, json_object(call).get("regex"))})

    def _repo_group(self, call: Call) -> Response:
        repo = self._repo(call, write=True)
        body = json_object(call)
        return json_response(self.state.grant_group(repo, body.get("group_id"), body.get("permission")))
