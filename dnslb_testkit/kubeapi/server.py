"""The HTTP face of the double (aiohttp): routes API requests to the registry, streams watches, applies
injected faults, counts requests, and serves the `/_test/...` control endpoints."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from dnslb_testkit.kubeapi import discovery, tables
from dnslb_testkit.kubeapi.errors import (
    ApiError,
    bad_request,
    injected,
    internal,
    method_not_allowed,
    resource_not_served,
)
from dnslb_testkit.kubeapi.faults import Faults, RequestLog
from dnslb_testkit.kubeapi.lists import ListQuery, parse_limit
from dnslb_testkit.kubeapi.registry import Registry, WriteOptions
from dnslb_testkit.kubeapi.routing import ResourcePath, parse_resource_path, split_group_version
from dnslb_testkit.kubeapi.seeding import seed
from dnslb_testkit.kubeapi.selectors import parse_field_selector, parse_label_selector
from dnslb_testkit.kubeapi.store import Store, StoredObject, dump, event_line
from dnslb_testkit.kubeapi.watch import Render, Watcher, WatchRequest

JSON = "application/json"
HEALTH_PATHS = ("/healthz", "/readyz", "/livez")
CONTROL_PREFIX = "/_test/"
_DROP_TIMEOUT = 10.0

_log = logging.getLogger(__name__)


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1")


def _json_response(
    body: bytes | Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    data = body if isinstance(body, bytes) else dump(body)
    return web.Response(body=data, status=status, content_type=JSON, headers=headers)


def _names(text: str | None) -> frozenset[str]:
    return frozenset(n for n in (text or "").split(",") if n)


def _error_response(error: ApiError) -> web.Response:
    return _json_response(error.status(), status=error.code, headers=error.headers)


def _verb(method: str, target: ResourcePath, watch: bool) -> str:
    single = target.name is not None
    return {
        "GET": ("get" if single else ("watch" if watch else "list")),
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete" if single else "deletecollection",
    }.get(method, method.lower())


class ApiServer:
    """Routes requests; runs on one event loop, which owns the set of open watches."""

    def __init__(
        self, store: Store, registry: Registry, faults: Faults, log: RequestLog, bookmark_interval: float
    ) -> None:
        self._store = store
        self._registry = registry
        self._faults = faults
        self._log = log
        self._bookmark_interval = bookmark_interval
        self._watchers: set[Watcher] = set()

    def application(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def drop_watches(self) -> None:
        """End every open watch stream and wait until their responses are finished."""
        watchers = list(self._watchers)
        for watcher in watchers:
            watcher.close()
        if watchers:
            await asyncio.wait([asyncio.ensure_future(w.finished.wait()) for w in watchers], timeout=_DROP_TIMEOUT)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith(CONTROL_PREFIX):
            return await self._control(request)
        if path in HEALTH_PATHS:
            return web.Response(text="ok")
        target = parse_resource_path(path)
        watch = _truthy(request.query.get("watch"))
        if target is not None:
            self._log.record(_verb(request.method, target, watch), target.resource)
        else:
            self._log.record(request.method.lower(), path)
        verb = _verb(request.method, target, watch) if target is not None else request.method.lower()
        if self._faults.silent(verb, target.resource if target is not None else path):
            await asyncio.Event().wait()  # accepted, never answered: the client must give up on its own
        failure = self._faults.take_failure()
        latency = self._faults.latency
        if latency:
            await asyncio.sleep(latency)
        try:
            if failure is not None:
                raise injected(failure)
            if target is None:
                return self._discovery(request)
            return await self._serve_resource(request, target, watch)
        except ApiError as error:
            return _error_response(error)
        except Exception as error:  # a bug in the double: still answer with a Status, and say where
            _log.exception("kubeapi double failed on %s %s", request.method, request.path_qs)
            return _error_response(internal(f"kubeapi double: {type(error).__name__}: {error}"))

    def _discovery(self, request: web.Request) -> web.Response:
        if request.method != "GET":
            raise method_not_allowed()
        path = request.path.rstrip("/")
        if path == "/version":
            return _json_response(discovery.SERVED_VERSION)
        if path == "/api":
            return _json_response(discovery.core_versions(request.host))
        if path == "/apis":
            return _json_response(discovery.group_list())
        parts = [p for p in path.split("/") if p]
        document: dict[str, Any] | None = None
        if len(parts) == 2 and parts[0] == "apis":
            document = discovery.group(parts[1])
        located = split_group_version(path)
        if located is not None and not located.rest:
            document = discovery.resource_list(located.group, located.version)
        if document is None:
            raise resource_not_served()
        return _json_response(document)

    async def _read_json(self, request: web.Request, *, optional: bool = False) -> Any:
        raw = await request.read()
        if not raw.strip():
            if optional:
                return None
            raise bad_request("the request body is empty")
        try:
            return json.loads(raw)
        except ValueError as error:
            raise bad_request(f"couldn't get version/kind; json parse error: {error}") from None

    @staticmethod
    def _write_options(request: web.Request, target: ResourcePath) -> WriteOptions:
        dry_run = request.query.getall("dryRun", [])
        for value in dry_run:
            if value != "All":
                raise bad_request(f'dryRun: Unsupported value: {value!r}: supported values: "All"')
        return WriteOptions(dry_run=bool(dry_run), subresource=target.subresource)

    def _list_query(self, request: web.Request, target: ResourcePath) -> ListQuery:
        query = request.query
        strategy = self._registry.strategy(target.kind)
        return ListQuery(
            label_selector=parse_label_selector(query.get("labelSelector")),
            field_selector=parse_field_selector(query.get("fieldSelector"), strategy.field_paths),
            limit=parse_limit(query.get("limit")),
            continue_token=query.get("continue", ""),
            resource_version=query.get("resourceVersion", ""),
            resource_version_match=query.get("resourceVersionMatch", ""),
        )

    @staticmethod
    def _table_request(request: web.Request, target: ResourcePath) -> tables.TableRequest | None:
        return tables.table_request(target.kind, request.headers.get("Accept"), request.query.get("includeObject"))

    def _table_events(self, request: web.Request, target: ResourcePath) -> Render | None:
        """A watch that asks for Tables gets one per event, with the column definitions in the first only."""
        as_table = self._table_request(request, target)
        if as_table is None:
            return None
        sent_headers = False

        def render(event_type: str, stored: StoredObject) -> bytes:
            nonlocal sent_headers
            body = tables.table(as_table, [stored], resource_version=str(stored.rv), headers=not sent_headers)
            sent_headers = True
            return event_line(event_type, dump(body))

        return render

    async def _serve_resource(self, request: web.Request, target: ResourcePath, watch: bool) -> web.StreamResponse:
        method = request.method
        kind, namespace = target.kind, target.namespace or ""
        registry = self._registry
        if target.name is None:
            if method == "GET":
                query = self._list_query(request, target)
                if watch:
                    return await self._watch(request, target, query)
                listed = registry.list_objects(kind, target.namespace, query)
                as_table = self._table_request(request, target)
                if as_table is not None:
                    return _json_response(
                        tables.table(
                            as_table,
                            listed.items,
                            resource_version=str(listed.rv),
                            continue_token=listed.continue_token,
                            remaining=listed.remaining,
                        )
                    )
                return _json_response(listed.body())
            if method == "POST":
                if kind.namespaced and target.namespace is None:
                    raise method_not_allowed()
                body = await self._read_json(request)
                created = registry.create(kind, namespace, body, self._write_options(request, target))
                return _json_response(created.raw, status=201)
            if method == "DELETE":
                query = self._list_query(request, target)
                deleted = registry.delete_collection(
                    kind, target.namespace, query, self._write_options(request, target)
                )
                list_body = {"kind": kind.list_kind, "apiVersion": kind.api_version, "metadata": {}}
                return _json_response(dump(list_body)[:-1] + b',"items":[' + b",".join(d.raw for d in deleted) + b"]}")
            raise method_not_allowed()
        name = target.name
        if method == "GET":
            stored = registry.get(kind, namespace, name)
            as_table = self._table_request(request, target)
            if as_table is not None:
                return _json_response(tables.table(as_table, [stored], resource_version=str(stored.rv)))
            return _json_response(stored.raw)
        if method == "PUT":
            body = await self._read_json(request)
            updated = registry.update(kind, namespace, name, body, self._write_options(request, target))
            return _json_response(updated.stored.raw, status=201 if updated.created else 200)
        if method == "PATCH":
            raw = await request.read()
            content_type = request.headers.get("Content-Type", "")
            patched = registry.patch(
                kind,
                namespace=namespace,
                name=name,
                body=raw,
                content_type=content_type,
                options=self._write_options(request, target),
            )
            return _json_response(patched.raw)
        if method == "DELETE" and not target.subresource:
            options = await self._read_json(request, optional=True) or {}
            preconditions = options.get("preconditions") if isinstance(options, dict) else None
            result = registry.delete(kind, namespace, name, preconditions or {}, self._write_options(request, target))
            if not result.finished or kind.delete_returns_object:
                return _json_response(result.stored.raw)
            details: dict[str, Any] = {"name": name, "kind": kind.plural, "uid": result.stored.obj["metadata"]["uid"]}
            if kind.group:
                details["group"] = kind.group
            return _json_response(
                {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}
            )
        raise method_not_allowed()

    async def _watch(self, request: web.Request, target: ResourcePath, query: ListQuery) -> web.StreamResponse:
        params = request.query
        timeout = params.get("timeoutSeconds")
        try:
            timeout_seconds = float(timeout) if timeout else None
        except ValueError:
            raise bad_request(f"invalid timeoutSeconds {timeout!r}") from None
        watch_request = WatchRequest(
            kind=target.kind,
            namespace=target.namespace,
            label_selector=query.label_selector,
            field_selector=query.field_selector,
            field_paths=self._registry.strategy(target.kind).field_paths,
            resource_version=query.resource_version,
            bookmarks=_truthy(params.get("allowWatchBookmarks")),
            timeout=timeout_seconds if timeout_seconds and timeout_seconds > 0 else None,
            send_initial_events=_truthy(params.get("sendInitialEvents")),
            bookmark_interval=self._bookmark_interval,
        )
        watcher = Watcher(self._store, watch_request, self._table_events(request, target))
        watcher.open()
        self._watchers.add(watcher)
        opened = self._faults.generation
        try:
            response = web.StreamResponse(status=200, headers={"Content-Type": JSON})
            response.enable_chunked_encoding()
            await response.prepare(request)
            async for chunk in watcher.chunks():
                if self._faults.generation != opened and self._faults.silent("watch", target.resource):
                    await asyncio.Event().wait()  # this stream died silently: nothing more, ever
                await response.write(chunk)
            await response.write_eof()
            return response
        finally:
            self._watchers.discard(watcher)
            watcher.stop()

    async def _control(self, request: web.Request) -> web.Response:
        action = request.path[len(CONTROL_PREFIX) :].strip("/")
        query = request.query
        try:
            if action == "requests" and request.method == "GET":
                return _json_response(self._log.counts())
            if request.method != "POST":
                raise method_not_allowed()
            if action == "drop-watches":
                await self.drop_watches()
            elif action == "compact":
                with self._store.lock:
                    self._store.compact()
            elif action == "fail-next":
                self._faults.fail_next(int(query.get("n", "1")), int(query.get("status", "500")))
            elif action == "latency":
                self._faults.set_latency(float(query.get("seconds", "0")))
            elif action == "silence":
                self._faults.silence(_names(query.get("verbs")), _names(query.get("resources")))
            elif action == "speak":
                self._faults.speak()
            elif action == "reset-requests":
                self._log.reset()
            elif action == "seed":
                return _json_response({"items": seed(self._registry, await self._read_json(request))})
            else:
                raise resource_not_served()
        except ValueError as error:
            return _error_response(bad_request(str(error)))
        except ApiError as error:
            return _error_response(error)
        return _json_response({"ok": True})
