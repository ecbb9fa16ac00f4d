"""The AsyncAPI 3.0 document of an app: a channel per WebSocket route, operations and messages from declarations.

Every WebSocket route becomes a channel whose address is the route's path. Path parameters become channel
parameters; query, header and cookie parameters of the route's dependencies become the WebSocket binding's `query`
and `headers` schemas (cookies, which the binding has no place for, go to an `x-cookies` schema beside them); security
schemes used by the dependencies become `components.securitySchemes`, required by the channel's operations.

A plain route gets one `receive` operation without declared messages. A `MessageRouter` route gets a `receive`
operation per handler, with a `reply` (its return value or an ack, or an error), and a `send` operation per declared
server message. Message payloads are the whole envelope, with `data` described by the pydantic schema. A route that
takes the channels hub also gets a `send` operation with the channel frames.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator, Sequence
from typing import Any, get_args
from urllib.parse import urljoin

from pydantic import TypeAdapter
from starlette.routing import BaseRoute, Mount, WebSocketRoute

from wsapi import status
from wsapi.asyncapi import channels
from wsapi.asyncapi.schemas import SchemaBatch
from wsapi.dependencies import Dependant, ParamField
from wsapi.messages import Dispatcher, ErrorData, HandlerPlan, MessageRouter
from wsapi.messages.envelope import ACK, ERROR
from wsapi.routing import APIWebSocketRoute
from wsapi.security import SecurityBase

ASYNCAPI_VERSION = "3.0.0"
_ID_SCHEMA = {"type": ["string", "integer"], "description": "Chosen by the client; the answer carries it back."}
_CORRELATION = {"location": "$message.payload#/id"}
_FLOW_URLS = ("authorizationUrl", "tokenUrl", "refreshUrl")


def build_document(*, title: str, version: str, description: str, routes: Sequence[BaseRoute]) -> dict[str, Any]:
    builder = _Builder()
    for address, route in _websocket_routes(routes, ""):
        builder.add_route(address, route)
    return builder.document(
        {"title": title, "version": version, **({"description": description} if description else {})}
    )


def _websocket_routes(routes: Sequence[BaseRoute], prefix: str) -> Iterator[tuple[str, WebSocketRoute]]:
    for route in routes:
        if isinstance(route, WebSocketRoute):
            yield prefix + route.path_format, route
        elif isinstance(route, Mount):
            # `path_format` would end in the mount's catch-all `{path}`; the path, without convertors, does not.
            yield from _websocket_routes(route.routes, prefix + re.sub(r"{(\w+):\w+}", r"{\1}", route.path))


def _key(name: str) -> str:
    """A name usable as a map key that `$ref`s can point to without escaping (AsyncAPI's component key pattern)."""
    return re.sub(r"[^\w.\-]", "_", name)


def _summary(call: Any) -> dict[str, str]:
    """Summary and description from a docstring (its own: `inspect.getdoc` would lend a class its base's)."""
    doc = inspect.cleandoc(call.__doc__ or "")
    if not doc:
        return {}
    summary, _, rest = doc.partition("\n")
    return {"summary": summary, **({"description": rest.strip()} if rest.strip() else {})}


def _message_limits(router: MessageRouter) -> str:
    """The close codes a typed route adds to the handshake's (AsyncAPI has no field of its own for them)."""
    limits = [f"`{type}` {limit}" for type, limit in router.type_limits.items()]
    if router.rate_limit is not None:
        limits.insert(
            0, "all messages " + ("the app's limit" if router.rate_limit == "app" else str(router.rate_limit))
        )
    rate = (
        f" Messages over a rate limit per connection ({'; '.join(limits)}) get a `rate_limited` error frame, and"
        f" close code {status.WS_1008_POLICY_VIOLATION} once a client has sent a burst more regardless."
        if limits
        else ""
    )
    return (
        "Bad input gets an `error` frame and the connection stays open, except: close code "
        f"{status.WS_1008_POLICY_VIOLATION} after {router.max_bad_messages} bad messages in a row; "
        f"{status.WS_1009_MESSAGE_TOO_BIG} for a frame over {router.max_message_size} bytes." + rate
    )


def _security_scheme(model: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI-style scheme, as wsapi's security classes describe themselves, in AsyncAPI 3.0 terms."""
    scheme = dict(model)
    if scheme["type"] == "apiKey":
        scheme["type"] = "httpApiKey"
    if scheme["type"] == "oauth2":
        scheme["flows"] = {
            name: {("availableScopes" if key == "scopes" else key): value for key, value in flow.items()}
            for name, flow in scheme["flows"].items()
        }
    return scheme


def absolute_urls(document: dict[str, Any], base: str) -> dict[str, Any]:
    """`document` with its OAuth2 flows' URLs resolved against `base`: AsyncAPI wants them absolute, and a
    relative `tokenUrl` ("token", as in FastAPI) is relative to the app's root."""

    def scheme(value: dict[str, Any]) -> dict[str, Any]:
        if value.get("type") != "oauth2":
            return value
        flows = {
            name: {key: urljoin(base, url) if key in _FLOW_URLS else url for key, url in flow.items()}
            for name, flow in value["flows"].items()
        }
        return {**value, "flows": flows}

    components = document.get("components", {})
    schemes = components.get("securitySchemes", {})
    if not any(value["type"] == "oauth2" for value in schemes.values()):
        return document
    operations = {
        key: {**operation, "security": [scheme(s) for s in operation["security"]]}
        if "security" in operation
        else operation
        for key, operation in document["operations"].items()
    }
    components = {**components, "securitySchemes": {key: scheme(value) for key, value in schemes.items()}}
    return {**document, "components": components, "operations": operations}


class _Builder:
    def __init__(self) -> None:
        self.schemas = SchemaBatch()
        self.channels: dict[str, Any] = {}
        self.operations: dict[str, Any] = {}
        self.security_schemes: dict[str, Any] = {}
        self.messages: dict[str, Any] = {}

    def document(self, info: dict[str, Any]) -> dict[str, Any]:
        components: dict[str, Any] = {"messages": self.messages}
        if self.security_schemes:
            components["securitySchemes"] = self.security_schemes
        document, definitions = self.schemas.resolve(
            {
                "asyncapi": ASYNCAPI_VERSION,
                "info": info,
                "defaultContentType": "application/json",
                "channels": self.channels,
                "operations": self.operations,
                "components": components,
            }
        )
        if definitions:
            document["components"]["schemas"] = definitions
        if not self.messages:
            del document["components"]["messages"]
        return dict(document)

    def add_route(self, address: str, route: WebSocketRoute) -> None:
        channel_id = _key(route.name)
        while channel_id in self.channels:
            channel_id += "_"
        ref = {"$ref": f"#/channels/{channel_id}"}
        # The route's own dependant is the endpoint's, or the connect hook's; it is solved once per connection.
        connection = route.dependant if isinstance(route, APIWebSocketRoute) else None
        dispatcher = route.dispatcher if isinstance(route, APIWebSocketRoute) else None
        dependants = [connection] if connection else []
        if dispatcher is not None:
            dependants += [d for d in (dispatcher.disconnect, *(p.extras for p in dispatcher.handlers.values())) if d]
        channel: dict[str, Any] = {"address": address, **self._connection(route, dependants)}
        self.channels[channel_id] = channel
        connection_security = self._security([connection] if connection else [])
        messages: dict[str, Any] = {}
        if dispatcher is None:
            endpoint = route.endpoint
            self.operations[f"{channel_id}.receive"] = {
                "action": "receive",
                "channel": ref,
                **(_summary(endpoint) or {"summary": "The frames this route receives are not declared."}),
                **({"security": connection_security} if connection_security else {}),
            }
        else:
            channel.update(_summary(dispatcher.connect) if dispatcher.router.connect_hook else {})
            limits = _message_limits(dispatcher.router)
            channel["description"] = f"{channel['description']}\n\n{limits}" if "description" in channel else limits
            messages = self._typed(channel_id, ref, dispatcher, connection_security)
        if channels.uses_channels(dependants):
            messages.update(self._channel_frames(channel_id, ref))
        if messages:
            channel["messages"] = messages

    def _connection(self, route: WebSocketRoute, dependants: list[Dependant]) -> dict[str, Any]:
        """The channel's parameters and WebSocket binding, from the parameters of every dependency on the route."""
        fields: dict[tuple[str, str], ParamField] = {}
        for dependant in dependants:
            for f in dependant.all_fields():
                if f.location != "body" and f.param.include_in_schema:
                    fields.setdefault((f.location, f.alias), f)
        parameters = {}
        for name in route.param_convertors:
            path_field = fields.get(("path", name))
            description = path_field.param.field_info.description if path_field is not None else None
            parameters[name] = {"description": description} if description else {}
        binding: dict[str, Any] = {"method": "GET"}
        for location, key in (("query", "query"), ("header", "headers"), ("cookie", "x-cookies")):
            located = [f for (loc, _), f in fields.items() if loc == location]
            if located:
                binding[key] = self._object_schema(located)
        binding["bindingVersion"] = "0.1.0"
        return {**({"parameters": parameters} if parameters else {}), "bindings": {"ws": binding}}

    def _object_schema(self, fields: list[ParamField]) -> dict[str, Any]:
        properties = {
            f.alias: self.schemas.add(("param", f.location, f.alias), TypeAdapter(f.annotated_type)) for f in fields
        }
        required = [f.alias for f in fields if f.required]
        return {"type": "object", "properties": properties, **({"required": required} if required else {})}

    def _security(self, dependants: list[Dependant]) -> list[dict[str, Any]]:
        requirements: list[dict[str, Any]] = []
        for dependant in dependants:
            for sub in dependant.walk():
                if not isinstance(sub.call, SecurityBase):
                    continue
                key = _key(sub.call.scheme_name)
                self.security_schemes[key] = _security_scheme(sub.call.model)
                if sub.security_scopes:
                    requirement = {**self.security_schemes[key], "scopes": sub.security_scopes}
                else:
                    requirement = {"$ref": f"#/components/securitySchemes/{key}"}
                if requirement not in requirements:
                    requirements.append(requirement)
        return requirements

    def _typed(
        self, channel_id: str, ref: dict[str, str], dispatcher: Dispatcher, security: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """The channel's messages, with an operation per handler and per declared server message."""
        messages: dict[str, Any] = {
            _key(plan.type): self._inbound(channel_id, plan) for plan in dispatcher.handlers.values()
        }
        inbound = set(messages)

        def server_key(name: str) -> str:
            # A server message named like a client message gets its own key; its `name` stays the wire type.
            key = _key(name)
            return key + ".server" if key in inbound else key

        def message_ref(key: str) -> dict[str, str]:
            return {"$ref": f"#/channels/{channel_id}/messages/{key}"}

        def shared(name: str) -> str:
            key = server_key(name)
            messages[key] = {"$ref": f"#/components/messages/{self._shared(name)}"}
            return key

        for plan in dispatcher.handlers.values():
            if plan.replies:
                reply_key = server_key(plan.reply_type)
                messages[reply_key] = self._reply(channel_id, plan)
            else:
                reply_key = shared(ACK)
            own_security = self._security([plan.extras]) if plan.extras is not None else []
            all_security = security + [s for s in own_security if s not in security]
            self.operations[f"{channel_id}.receive.{_key(plan.type)}"] = {
                "action": "receive",
                "channel": ref,
                "messages": [message_ref(_key(plan.type))],
                "reply": {"channel": ref, "messages": [message_ref(reply_key), message_ref(shared(ERROR))]},
                **_summary(plan.dependant.call),
                **({"security": all_security} if all_security else {}),
            }
        for outbound in dispatcher.router.outbound.values():
            key = server_key(outbound.type)
            data = self.schemas.add(("out", channel_id, outbound.type), outbound.adapter, "serialization")
            messages[key] = {
                "name": outbound.type,
                "payload": _envelope(outbound.type, data, with_id=False),
                **({"summary": outbound.description} if outbound.description else {}),
            }
            self.operations[f"{channel_id}.send.{key}"] = {
                "action": "send",
                "channel": ref,
                "messages": [message_ref(key)],
            }
        shared(ERROR)  # also sent for frames that name no handler
        return messages

    def _channel_frames(self, channel_id: str, ref: dict[str, str]) -> dict[str, Any]:
        """The channels hub's frames: defined once in components, sent by one operation per route that takes it."""
        keys = []
        for model in channels.FRAMES:
            (name,) = get_args(model.model_fields["type"].annotation)
            key = f"channels.{name}"  # apart from the route's own messages, which may be called `message` too
            if key not in self.messages:
                payload = self.schemas.add(("channels", name), TypeAdapter(model), "serialization")
                self.messages[key] = {"name": name, **_summary(model), "payload": payload}
            keys.append(key)
        self.operations[f"{channel_id}.channels.send"] = {
            "action": "send",
            "channel": ref,
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{key}"} for key in keys],
            "summary": channels.SUMMARY,
            "description": channels.DESCRIPTION,
        }
        return {key: {"$ref": f"#/components/messages/{key}"} for key in keys}

    def _inbound(self, channel_id: str, plan: HandlerPlan) -> dict[str, Any]:
        data = None
        if plan.payload is not None:
            data = self.schemas.add(("in", channel_id, plan.type), plan.payload)
        return {
            "name": plan.type,
            "payload": _envelope(plan.type, data, with_id=True, data_required=plan.payload_required),
            "correlationId": _CORRELATION,
            **_summary(plan.dependant.call),
        }

    def _reply(self, channel_id: str, plan: HandlerPlan) -> dict[str, Any]:
        data: Any = {}  # no return annotation: any JSON
        if plan.reply is not None:
            data = self.schemas.add(("reply", channel_id, plan.type), plan.reply, "serialization")
        return {
            "name": plan.reply_type,
            "summary": f"The reply to {plan.type}.",
            "payload": _envelope(plan.reply_type, data, with_id=True),
            "correlationId": _CORRELATION,
        }

    def _shared(self, name: str) -> str:
        """ack and error: defined once in components, listed in each channel that sends them."""
        if name not in self.messages:
            if name == ACK:
                payload = _envelope(ACK, None, with_id=True)
                summary = "A request with an id was handled by a handler that returns nothing."
            else:
                data = self.schemas.add("error", TypeAdapter(ErrorData), "serialization")
                payload = _envelope(ERROR, data, with_id=True)
                summary = "A request could not be handled; `id` is there when the request had one."
            self.messages[name] = {"name": name, "summary": summary, "payload": payload, "correlationId": _CORRELATION}
        return name


def _envelope(type: str, data: Any, *, with_id: bool, data_required: bool = True) -> dict[str, Any]:
    properties: dict[str, Any] = {"type": {"const": type}}
    if with_id:
        properties["id"] = _ID_SCHEMA
    required = ["type"]
    if data is not None:
        properties["data"] = data
        if data_required:
            required.append("data")
    return {"type": "object", "properties": properties, "required": required}
