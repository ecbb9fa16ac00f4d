"""Serving a `MessageRouter` on one route: handler plans compiled once, then a receive loop per connection.

Per frame: a size check, one pydantic call to parse and check the envelope, a dict lookup for the handler, one
pydantic call for `data`; dependencies are solved only for handlers that have some, with a fresh exit stack per
message so that yield-dependencies are torn down before the reply goes out.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from time import monotonic
from types import NoneType
from typing import Any

from pydantic import TypeAdapter, ValidationError
from pydantic_core import to_json
from starlette.exceptions import WebSocketException
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from wsapi import status
from wsapi.concurrency import CallKind
from wsapi.connections import CLOSE_RATE_LIMITED, CONNECTION_KEY, Connection
from wsapi.dependencies import NO_BODY, Dependant, Errors, Solver, analyse
from wsapi.limits import DEFAULT_LIMITS, RateLimit, RateLimited, TokenBucket
from wsapi.messages.envelope import (
    ACK_PREFIX,
    ENVELOPE,
    REPLY_SUFFIX,
    ErrorCode,
    MessageError,
    cut_inputs,
    encode,
    encode_error,
    salvage_id,
    type_prefix,
)
from wsapi.messages.router import MessageRouter

logger = logging.getLogger("wsapi")

_CONNECTED = WebSocketState.CONNECTED


@dataclass(frozen=True, eq=False)
class HandlerPlan:
    """One handler, analysed: where its message goes, what else it needs, how its reply is encoded."""

    type: str
    dependant: Dependant
    # The handler without its message parameter, when it takes dependencies or the connection; else None.
    extras: Dependant | None
    payload_name: str | None
    payload: TypeAdapter[Any] | None
    payload_required: bool
    payload_default: Callable[[], Any]
    replies: bool  # False when the return annotation is None: the handler only ever acknowledges
    reply: TypeAdapter[Any] | None  # from the return annotation, when there is one
    reply_prefix: bytes

    @property
    def reply_type(self) -> str:
        return self.type + REPLY_SUFFIX


class _Rejected(Exception):
    """A request that never reached its handler: answered with an error frame, counted as a bad message."""

    def __init__(self, code: ErrorCode, message: str, errors: Sequence[Any] | None = None, id: Any = None) -> None:
        self.code = code
        self.message = message
        self.errors = errors
        self.id = id


async def _accept_on_connect() -> None:
    """The connect hook of a router that declares none."""


def compile_handler(message_type: str, handler: Callable[..., Any], path_param_names: frozenset[str]) -> HandlerPlan:
    dependant = analyse(handler, path_param_names=path_param_names, body_by_default=True)
    what = f"handler of {message_type!r}"
    if dependant.kind not in (CallKind.ASYNC, CallKind.SYNC):
        raise TypeError(f"{what} must be a function, not a generator")
    body = [f for f in dependant.fields if f.location == "body"]
    others = [f.name for f in dependant.fields if f.location != "body"]
    if others:
        raise TypeError(f"{what}: {others} read the handshake; take them in a dependency or the connect hook")
    if len(body) > 1:
        raise TypeError(f"{what} takes one message parameter, not {[f.name for f in body]}")
    extras = None
    if dependant.dependencies or dependant.specials:
        extras = replace(dependant, fields=[], validator=None, fields_by_name={})
    returns = inspect.signature(handler, eval_str=True).return_annotation
    payload = body[0] if body else None
    return HandlerPlan(
        type=message_type,
        dependant=dependant,
        extras=extras,
        payload_name=payload.name if payload else None,
        payload=TypeAdapter(payload.annotated_type) if payload else None,
        payload_required=payload.required if payload else False,
        payload_default=payload.default_value if payload else _none,
        replies=returns not in (None, NoneType),
        reply=None if returns in (inspect.Signature.empty, None, NoneType) else TypeAdapter(returns),
        reply_prefix=type_prefix(message_type + REPLY_SUFFIX),
    )


def _none() -> None:
    return None


def _in_data(errors: list[Any]) -> Errors:
    """The message's validation errors, located in the envelope: `("data", "text")`."""
    return cut_inputs([{**error, "loc": ("data", *error["loc"])} for error in errors])


def _from_body(errors: Errors) -> Errors:
    """A per-message dependency's errors: a `Body()` parameter reads the message's `data`, so it is named so."""
    return cut_inputs([{**e, "loc": ("data", *e["loc"][1:])} if e["loc"][0] == "body" else e for e in errors])


class _Limiter:
    """One connection's message buckets: the route's, and one per rate-limited message type."""

    __slots__ = ("by_type", "route")

    def __init__(self, route: RateLimit | None, by_type: dict[str, RateLimit]) -> None:
        self.route = route.bucket() if route is not None else None
        self.by_type = {type: limit.bucket() for type, limit in by_type.items()}

    def refusing(self, type: str) -> tuple[TokenBucket, float] | None:
        """The bucket that refuses a message of `type` now and how long until it would not, if one does."""
        now = monotonic()
        bucket = self.route
        if bucket is not None and (wait := bucket.take(now)):
            return bucket, wait
        if self.by_type:
            bucket = self.by_type.get(type)
            if bucket is not None and (wait := bucket.take(now)):
                return bucket, wait
        return None


class Dispatcher:
    """A `MessageRouter` compiled for one route (its path parameters are known only there)."""

    def __init__(self, router: MessageRouter, path_param_names: frozenset[str]) -> None:
        self.router = router
        self.handlers = {t: compile_handler(t, h, path_param_names) for t, h in router.handlers.items()}
        self.connect = router.connect_hook or _accept_on_connect
        self.disconnect = (
            analyse(router.disconnect_hook, path_param_names=path_param_names) if router.disconnect_hook else None
        )

    async def serve(self, websocket: WebSocket, solver: Solver) -> None:
        """After the connect hook: accept, handle frames until the connection ends, then run the disconnect hook."""
        if websocket.application_state is WebSocketState.CONNECTING:
            await websocket.accept()
        if websocket.application_state is not _CONNECTED:
            return  # the connect hook closed the connection
        try:
            await self._receive_loop(websocket, solver)
        finally:
            if self.disconnect is not None:
                values, errors = await solver.solve(self.disconnect)
                if errors:
                    logger.error("disconnect hook of %s not run: %s", websocket.url.path, errors)
                else:
                    await solver.call(self.disconnect, values)

    def _limiter(self, websocket: WebSocket) -> _Limiter:
        """The connection's buckets: the route reads its frames past the connection's guard, these replace it."""
        connection: Connection | None = websocket.scope.get(CONNECTION_KEY)
        limit = self.router.rate_limit
        if limit == "app":
            limit = (connection.limits if connection is not None else DEFAULT_LIMITS).messages
        return _Limiter(limit, self.router.type_limits)

    async def _receive_loop(self, websocket: WebSocket, solver: Solver) -> None:
        receive = websocket.receive
        limit = self.router.max_message_size
        max_bad = self.router.max_bad_messages
        debug = bool(getattr(websocket.scope.get("app"), "debug", False))
        limiter = self._limiter(websocket)
        bad = 0
        while websocket.application_state is _CONNECTED:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                if len(message.get("bytes") or b"") > limit:
                    return await self._too_big(websocket)
                await websocket.send_text(
                    encode_error(None, ErrorCode.UNSUPPORTED_FRAME, "Binary frames are not accepted: send JSON text")
                )
                handled = False
            else:
                # A character is at most 4 bytes in UTF-8: only long texts need encoding to be measured.
                if len(text) > limit // 4 and len(text.encode()) > limit:
                    return await self._too_big(websocket)
                handled = await self._dispatch(websocket, solver, text, debug, limiter)
            bad = 0 if handled else bad + 1
            if bad >= max_bad:
                logger.info("closing %s after %d bad messages in a row", websocket.url.path, bad)
                await websocket.close(status.WS_1008_POLICY_VIOLATION, "Too many bad messages")
                return

    async def _too_big(self, websocket: WebSocket) -> None:
        limit = self.router.max_message_size
        await websocket.close(status.WS_1009_MESSAGE_TOO_BIG, f"Message larger than {limit} bytes")

    @staticmethod
    async def _refuse(websocket: WebSocket, type: str, id: Any, bucket: TokenBucket, wait: float) -> None:
        if bucket.exhausted(monotonic()):
            logger.info("closing %s: it kept sending %r messages over its rate limit", websocket.url.path, type)
            await websocket.close(CLOSE_RATE_LIMITED, "Rate limit exceeded")
            return
        limit = f"at most {bucket.rate:g} per second (burst {bucket.burst})"
        await websocket.send_text(encode_error(id, ErrorCode.RATE_LIMITED, f"Too many messages: {limit}", None, wait))

    def _parse(self, text: str) -> tuple[HandlerPlan, Any, Any]:
        """The handler, id and data of a frame, or `_Rejected`."""
        try:
            envelope = ENVELOPE.validate_json(text)
        except ValidationError as exc:
            # Without `input`: that would echo the whole frame back.
            errors = exc.errors(include_url=False, include_input=False)
            if errors[0]["type"] == "json_invalid":
                raise _Rejected(ErrorCode.INVALID_JSON, "Frame is not valid JSON", errors) from None
            raise _Rejected(
                ErrorCode.INVALID_ENVELOPE, "Frame is not a message envelope", errors, salvage_id(text)
            ) from None
        id = envelope.get("id")
        plan = self.handlers.get(envelope["type"])
        if plan is None:
            raise _Rejected(ErrorCode.UNKNOWN_TYPE, f"Unknown message type {envelope['type']!r}", id=id)
        return plan, id, envelope.get("data", NO_BODY)

    async def _dispatch(self, websocket: WebSocket, solver: Solver, text: str, debug: bool, limiter: _Limiter) -> bool:
        """Handle one text frame; False when it was a bad message (answered with an error frame)."""
        try:
            plan, id, data = self._parse(text)
        except _Rejected as rejected:
            await websocket.send_text(encode_error(rejected.id, rejected.code, rejected.message, rejected.errors))
            return False
        refusing = limiter.refusing(plan.type)
        if refusing is not None:
            await self._refuse(websocket, plan.type, id, *refusing)
            return True
        try:
            result = await self._call(plan, websocket, solver, data)
        except _Rejected as rejected:
            await websocket.send_text(encode_error(id, rejected.code, rejected.message, rejected.errors))
            return False
        except MessageError as exc:
            await websocket.send_text(encode_error(id, exc.code, exc.message))
            return True
        except RateLimited as exc:
            message = f"Rate limit exceeded: {exc.what}"
            await websocket.send_text(encode_error(id, ErrorCode.RATE_LIMITED, message, None, exc.retry_after))
            return True
        except (WebSocketException, WebSocketDisconnect):
            raise
        except Exception:
            logger.exception("handler of message type %r on %s raised", plan.type, websocket.url.path)
            if websocket.application_state is _CONNECTED:
                await websocket.send_text(encode_error(id, ErrorCode.INTERNAL_ERROR, "Internal server error"))
            return True
        if websocket.application_state is _CONNECTED:
            await self._reply(websocket, plan, id, result, debug)
        return True

    async def _call(self, plan: HandlerPlan, websocket: WebSocket, solver: Solver, data: Any) -> Any:
        values: dict[str, Any] = {}
        if plan.payload_name is not None:
            values[plan.payload_name] = self._validate(plan, data)
        extras = plan.extras
        if extras is None:
            return await solver.call(plan.dependant, values)
        if not extras.dependencies:  # the connection or security scopes only: nothing to enter or tear down
            specials, _ = await solver.solve(extras)
            return await solver.call(plan.dependant, {**specials, **values})
        async with AsyncExitStack() as stack:
            # Values the connection already solved are reused; what this message solves is dropped with it.
            message_solver = Solver(websocket, stack, solver.overrides, data, function_stack=stack)
            message_solver.cache = solver.cache.copy()
            solved, errors = await message_solver.solve(extras)
            if errors:
                raise _Rejected(ErrorCode.VALIDATION_ERROR, "A dependency's input is invalid", _from_body(errors))
            return await message_solver.call(plan.dependant, {**solved, **values})

    @staticmethod
    def _validate(plan: HandlerPlan, data: Any) -> Any:
        if data is NO_BODY:
            if plan.payload_required:
                missing = {"type": "missing", "loc": ("data",), "msg": "Field required"}
                raise _Rejected(ErrorCode.VALIDATION_ERROR, "Message has no data", [missing])
            return plan.payload_default()
        assert plan.payload is not None
        try:
            return plan.payload.validate_python(data)
        except ValidationError as exc:
            raise _Rejected(
                ErrorCode.VALIDATION_ERROR, "Invalid data", _in_data(exc.errors(include_url=False))
            ) from None

    @staticmethod
    async def _reply(websocket: WebSocket, plan: HandlerPlan, id: Any, result: Any, debug: bool) -> None:
        if result is None:
            if id is not None:
                await websocket.send_text(encode(ACK_PREFIX, id, None))
            return
        try:
            if debug and plan.reply is not None:
                plan.reply.validate_python(result)  # a check only: both modes encode the same way
            data = to_json(result)
        except Exception:
            logger.exception("reply to message type %r on %s is invalid", plan.type, websocket.url.path)
            await websocket.send_text(encode_error(id, ErrorCode.INTERNAL_ERROR, "Internal server error"))
            return
        await websocket.send_text(encode(plan.reply_prefix, id, data))
