"""JSON schemas from pydantic, generated in one batch so that every model is defined once under components."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue
from pydantic_core import core_schema

REF_TEMPLATE = "#/components/schemas/{model}"


class OpenAPISchema(GenerateJsonSchema):
    """pydantic's JSON Schema (2020-12, which OpenAPI 3.1 uses), with bytes described as content, not a format."""

    def bytes_schema(self, schema: core_schema.BytesSchema) -> JsonSchemaValue:
        mode = self._config.ser_json_bytes if self.mode == "serialization" else self._config.val_json_bytes
        generated: JsonSchemaValue = {"type": "string", "contentMediaType": "application/octet-stream"}
        if mode == "base64":
            generated["contentEncoding"] = "base64"
        return generated


@dataclass(frozen=True)
class Pending:
    """A schema asked for while the document is assembled; filled in by `SchemaBatch.resolve`.

    `extra` is merged into an inline schema (a parameter's title, its default), not into a `$ref`.
    """

    key: Hashable
    mode: JsonSchemaMode
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


class SchemaBatch:
    def __init__(self, *, separate_input_output: bool = True) -> None:
        self._inputs: dict[tuple[Hashable, JsonSchemaMode], TypeAdapter[Any]] = {}
        self.separate_input_output = separate_input_output

    def add(
        self,
        key: Hashable,
        adapter: TypeAdapter[Any],
        mode: JsonSchemaMode = "validation",
        extra: dict[str, Any] | None = None,
    ) -> Pending:
        if not self.separate_input_output:
            mode = "validation"
        self._inputs.setdefault((key, mode), adapter)
        return Pending(key, mode, extra or {})

    def resolve(self, document: Any) -> tuple[Any, dict[str, Any]]:
        """`document` with every `Pending` replaced by its schema, and the shared definitions by name."""
        if not self._inputs:
            return document, {}
        inputs = [(key, mode, adapter) for (key, mode), adapter in self._inputs.items()]
        schemas, definitions = TypeAdapter.json_schemas(
            inputs, ref_template=REF_TEMPLATE, schema_generator=OpenAPISchema
        )
        return _replace(document, schemas), definitions.get("$defs", {})


def _replace(node: Any, schemas: dict[tuple[Hashable, JsonSchemaMode], JsonSchemaValue]) -> Any:
    if isinstance(node, Pending):
        schema = dict(schemas[(node.key, node.mode)])
        return schema if "$ref" in schema else {**schema, **node.extra}
    if isinstance(node, dict):
        return {key: _replace(value, schemas) for key, value in node.items()}
    if isinstance(node, list):
        return [_replace(value, schemas) for value in node]
    return node
