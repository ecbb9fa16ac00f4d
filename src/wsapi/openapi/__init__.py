"""OpenAPI 3.1: the document of an app's HTTP routes (`utils.get_openapi`) and its docs pages (`docs`)."""

from wsapi.openapi.utils import get_openapi

__all__ = ["get_openapi"]
