"""Starlette's Jinja2 templates (install `jinja2`)."""

from starlette.templating import Jinja2Templates

__all__ = ["Jinja2Templates"]
