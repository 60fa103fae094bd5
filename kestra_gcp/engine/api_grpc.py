"""The Executions API over gRPC on 127.0.0.1, for the official `google-cloud-workflows` ExecutionsClient,
whose executions_v1 client ships only gRPC transports. Requests are translated to the REST facade's routes,
so both protocols share one implementation.

Client side: `ExecutionsClient(transport=ExecutionsGrpcTransport(channel=grpc.insecure_channel(addr)))`."""

from __future__ import annotations

import json
from concurrent import futures
from typing import Any
from urllib.parse import quote

import grpc
from google.cloud.workflows.executions_v1.types import executions as t

from kestra_gcp.engine.api import ExecutionsApi, _ApiError

SERVICE = "google.cloud.workflows.executions.v1.Executions"
_CODES = {400: grpc.StatusCode.INVALID_ARGUMENT, 404: grpc.StatusCode.NOT_FOUND}


def _view(view: Any) -> dict[str, str]:
    name = t.ExecutionView(view).name if view else ""
    return {"view": name} if name and name != "EXECUTION_VIEW_UNSPECIFIED" else {}


def serve_grpc(api: ExecutionsApi, port: int = 0) -> tuple[grpc.Server, int]:
    """Start a gRPC server for `api` on 127.0.0.1:port; returns (server, bound port)."""

    def call(context: grpc.ServicerContext, method: str, path: str, query: dict[str, str], body: bytes) -> Any:
        try:
            return api.handle(method, path, query, body)
        except _ApiError as exc:
            context.abort(_CODES.get(exc.code, grpc.StatusCode.INTERNAL), exc.message)

    def to_execution(resource: dict[str, Any]) -> t.Execution:
        return t.Execution.from_json(json.dumps(resource), ignore_unknown_fields=True)

    def create(req: t.CreateExecutionRequest, context: grpc.ServicerContext) -> t.Execution:
        body = t.Execution.to_json(req.execution).encode()
        return to_execution(call(context, "POST", f"/v1/{req.parent}/executions", {}, body))

    def get(req: t.GetExecutionRequest, context: grpc.ServicerContext) -> t.Execution:
        return to_execution(call(context, "GET", f"/v1/{req.name}", _view(req.view), b""))

    def cancel(req: t.CancelExecutionRequest, context: grpc.ServicerContext) -> t.Execution:
        return to_execution(call(context, "POST", f"/v1/{req.name}:cancel", {}, b""))

    def list_(req: t.ListExecutionsRequest, context: grpc.ServicerContext) -> t.ListExecutionsResponse:
        query = {**_view(req.view)}
        if req.filter:
            query["filter"] = req.filter
        if req.page_size:
            query["pageSize"] = str(req.page_size)
        if req.page_token:
            query["pageToken"] = req.page_token
        out = call(context, "GET", f"/v1/{quote(req.parent, safe='/')}/executions", query, b"")
        return t.ListExecutionsResponse.from_json(json.dumps(out), ignore_unknown_fields=True)

    def handler(fn: Any, request: Any, response: Any) -> grpc.RpcMethodHandler:
        return grpc.unary_unary_rpc_method_handler(
            fn, request_deserializer=request.deserialize, response_serializer=response.serialize
        )

    handlers = {
        "CreateExecution": handler(create, t.CreateExecutionRequest, t.Execution),
        "GetExecution": handler(get, t.GetExecutionRequest, t.Execution),
        "CancelExecution": handler(cancel, t.CancelExecutionRequest, t.Execution),
        "ListExecutions": handler(list_, t.ListExecutionsRequest, t.ListExecutionsResponse),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="executions-grpc"))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    try:
        bound = server.add_insecure_port(f"127.0.0.1:{port}")
    except RuntimeError as exc:  # grpc's way of saying the address is taken
        raise OSError(f"cannot listen on 127.0.0.1:{port} (gRPC)") from exc
    server.start()
    return server, bound
