from __future__ import annotations

from collections.abc import Sequence


class SecurityScopes:
    """The OAuth2 scopes required by every `Security(...)` on the path from the endpoint to this dependency."""

    def __init__(self, scopes: Sequence[str] | None = None) -> None:
        self.scopes: list[str] = list(scopes or [])

    @property
    def scope_str(self) -> str:
        return " ".join(self.scopes)

    def __repr__(self) -> str:
        return f"SecurityScopes({self.scopes!r})"
