"""JSON schemas from pydantic, generated in one batch so that models shared by several messages are defined once."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue
from pydantic_core import core_schema

REF_TEMPLATE = "#/components/schemas/{model}"


class AsyncAPISchema(GenerateJsonSchema):
    """pydantic's JSON schema, adjusted where the AsyncAPI schema object differs from JSON Schema."""

    def tagged_union_schema(self, schema: core_schema.TaggedUnionSchema) -> JsonSchemaValue:
        generated = super().tagged_union_schema(schema)
        # AsyncAPI's `discriminator` is the property name alone, not OpenAPI's {propertyName, mapping} object.
        if isinstance(generated.get("discriminator"), dict):
            generated["discriminator"] = generated["discriminator"]["propertyName"]
        return generated


@dataclass(frozen=True)
class Pending:
    """A schema asked for while the document is assembled; filled in by `SchemaBatch.resolve`."""

    key: Hashable
    mode: JsonSchemaMode


class SchemaBatch:
    def __init__(self) -> None:
        self._inputs: dict[tuple[Hashable, JsonSchemaMode], TypeAdapter[Any]] = {}

    def add(self, key: Hashable, adapter: TypeAdapter[Any], mode: JsonSchemaMode = "validation") -> Pending:
        self._inputs.setdefault((key, mode), adapter)
        return Pending(key, mode)

    def resolve(self, document: Any) -> tuple[Any, dict[str, Any]]:
        """`document` with every `Pending` replaced by its schema, and the shared definitions by name."""
        inputs = [(key, mode, adapter) for (key, mode), adapter in self._inputs.items()]
        schemas, definitions = TypeAdapter.json_schemas(
            inputs, ref_template=REF_TEMPLATE, schema_generator=AsyncAPISchema
        )
        return _replace(document, schemas), definitions.get("$defs", {})


def _replace(node: Any, schemas: dict[tuple[Hashable, JsonSchemaMode], JsonSchemaValue]) -> Any:
    if isinstance(node, Pending):
        return schemas[(node.key, node.mode)]
    if isinstance(node, dict):
        return {key: _replace(value, schemas) for key, value in node.items()}
    if isinstance(node, list):
        return [_replace(value, schemas) for value in node]
    return node
