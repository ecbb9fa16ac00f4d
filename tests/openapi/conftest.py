"""The official OpenAPI 3.1 JSON Schema (vendored) and a check that a document is valid against it."""

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import rfc3986_validator

SPEC = Path(__file__).parent / "spec" / "openapi-3.1-schema.json"


@pytest.fixture(scope="session")
def openapi_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SPEC.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    # OpenAPI 3.1 (section 4.6) lets every URL be a relative reference, resolved against the server's URL (an OAuth2
    # `tokenUrl="token"`); the schema's `format: uri` is stricter than that text, so `uri` is checked as a reference.
    formats = jsonschema.FormatChecker()
    formats.checks("uri")(
        lambda value: not isinstance(value, str) or rfc3986_validator.validate_rfc3986(value, rule="URI_reference")
    )
    return jsonschema.Draft202012Validator(schema, format_checker=formats)


def openapi_errors(validator: jsonschema.Draft202012Validator, document: dict[str, Any]) -> list[str]:
    """Where and why `document` breaks OpenAPI 3.1, its Schema Objects included: empty for a valid document."""
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            errors.append(f"components.schemas.{name}: {exc.message}")
    return errors
