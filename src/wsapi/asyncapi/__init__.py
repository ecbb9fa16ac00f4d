"""The AsyncAPI 3.0 document of an app's WebSocket routes, and a docs page with a console to try them."""

from wsapi.asyncapi.document import ASYNCAPI_VERSION, build_document

__all__ = ["ASYNCAPI_VERSION", "build_document"]
