"""The plan the analysis compiles for one callable: what to extract, what to validate, what to call.

Plans are shared: one callable analysed in the same context is one plan, whichever routes use it. So nothing about
a route (its body mode, its overrides) is written into a plan; the solver is told those per solve.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any

from pydantic import TypeAdapter

from wsapi.concurrency import CallKind
from wsapi.params import DependencyScope, Location, Param
from wsapi.security.base import SecurityBase
from wsapi.security.scopes import SecurityScopes

GENERATORS = (CallKind.ASYNC_GENERATOR, CallKind.SYNC_GENERATOR)


class Special(enum.Enum):
    """Parameters filled from the connection itself rather than from its data."""

    CONNECTION = "connection"
    SECURITY_SCOPES = "security scopes"
    BACKGROUND_TASKS = "background tasks"  # run after the response is sent; one set per request
    RESPONSE = "response"  # a response whose status and headers the route's response takes on


@dataclass(eq=False)
class ParamField:
    name: str
    location: Location
    alias: str
    annotation: Any
    param: Param
    repeated: bool

    @property
    def required(self) -> bool:
        return self.param.required

    @property
    def annotated_type(self) -> Any:
        """The parameter's type with its constraints and docs attached, as pydantic validates and describes it."""
        return Annotated[self.annotation, self.param.field_info]

    def default_value(self) -> Any:
        if self.param.default_factory is not None:
            return self.param.default_factory()
        default = self.param.default
        # A fresh copy per connection, so that one connection mutating a list default cannot leak into the next.
        return default.copy() if isinstance(default, list | dict | set) else default


@dataclass(eq=False)
class Dependant:
    call: Callable[..., Any] | None
    kind: CallKind = CallKind.ASYNC
    fields: list[ParamField] = field(default_factory=list)
    # (parameter name, dependant); the name is None for `dependencies=[...]`, whose values are not passed on.
    dependencies: list[tuple[str | None, Dependant]] = field(default_factory=list)
    specials: list[tuple[str, Special]] = field(default_factory=list)
    security_scopes: list[str] = field(default_factory=list)  # every `Security` scope on the path to this one
    declares_scopes: bool = False  # reached through `Security(..., scopes=[...])` with scopes of its own
    use_cache: bool = True
    # When a yield-dependency is torn down: "function" when the endpoint returns, "request" when the request or
    # connection is over. None for a plain dependency that did not ask.
    scope: DependencyScope | None = None
    path_param_names: frozenset[str] = frozenset()
    validator: TypeAdapter[dict[str, Any]] | None = None
    fields_by_name: dict[str, ParamField] = field(default_factory=dict)

    @cached_property
    def uses_scopes(self) -> bool:
        """Whether the security scopes on its path can change what it returns (as FastAPI decides it)."""
        return (
            self.declares_scopes
            or any(special is Special.SECURITY_SCOPES for _, special in self.specials)
            or isinstance(self.call, SecurityBase)
            or any(sub.uses_scopes for _, sub in self.dependencies)
        )

    @cached_property
    def cache_key(self) -> tuple[Any, tuple[str, ...], str]:
        """Within one solve, dependants with the same key are called once; their scopes count only if they use them."""
        scopes = tuple(sorted(set(self.security_scopes))) if self.uses_scopes else ()
        return (self.call, scopes, self.scope or "")

    @cached_property
    def scopes_object(self) -> SecurityScopes:
        return SecurityScopes(self.security_scopes)

    @cached_property
    def context_manager(self) -> Callable[..., Any]:
        """A generator dependency's `call` as a context manager factory, wrapped once rather than per solve."""
        if self.call is None:
            raise TypeError("a dependency without a callable has no context manager")
        if self.kind is CallKind.ASYNC_GENERATOR:
            return asynccontextmanager(self.call)
        return contextmanager(self.call)

    @cached_property
    def needs_exit_stack(self) -> bool:
        """Whether solving this plan enters a yield-dependency torn down with the request (or connection)."""
        return any(d.kind in GENERATORS and d.scope != "function" for d in self.walk())

    @cached_property
    def needs_function_stack(self) -> bool:
        """Whether solving this plan enters a yield-dependency torn down as soon as the endpoint returns."""
        return any(d.kind in GENERATORS and d.scope == "function" for d in self.walk())

    def walk(self) -> list[Dependant]:
        """This dependant and every sub-dependant, depth first."""
        found = [self]
        for _, sub in self.dependencies:
            found.extend(sub.walk())
        return found

    def all_fields(self) -> list[ParamField]:
        return [f for dependant in self.walk() for f in dependant.fields]
