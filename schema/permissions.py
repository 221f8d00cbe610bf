"""Permission classes: a mutation names the scope its token must hold."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from resolvers.errors import Forbidden, Unauthenticated
from schema.context import Info


class HasScope(BasePermission):
    scope = ""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.viewer
        if info.context.auth_error is not None:
            raise Unauthenticated(info.context.auth_error)
        if not viewer.authenticated:
            raise Unauthenticated(f"a bearer token with scope {self.scope} is required")
        if self.scope not in viewer.scopes:
            raise Forbidden(f"the token lacks scope {self.scope}", requiredScope=self.scope)
        return True


class CanWriteOdds(HasScope):
    scope = "odds:write"


class CanWriteRaces(HasScope):
    scope = "races:write"


class CanWriteNews(HasScope):
    scope = "news:write"


class IsAuthenticated(BasePermission):
    """Personal data: any valid token; its subject is the user."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        if info.context.auth_error is not None:
            raise Unauthenticated(info.context.auth_error)
        if not info.context.viewer.authenticated:
            raise Unauthenticated("a bearer token is required: alerts and notifications are personal")
        return True
