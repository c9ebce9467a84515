"""Domain errors: every refusal a service can give, with a stable code.

Views and the API turn these into one shape, ``{"code", "message", "details"}``,
with the message translated into the request's language.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    status: int = 400
    code: str = "bad_request"
    default_message: Any = _("请求无效。")

    def __init__(self, message: Any = None, *, code: str | None = None, **details: Any) -> None:
        self.message = message if message is not None else self.default_message
        if code:
            self.code = code
        self.details = details
        super().__init__(str(self.message))

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": str(self.message), "details": self.details or None}


class NotFound(DomainError):
    status = 404
    code = "not_found"
    default_message = _("对象不存在或无权访问。")


class PermissionDenied(DomainError):
    status = 403
    code = "permission_denied"
    default_message = _("您没有执行此操作的权限。")


class NotAuthenticated(DomainError):
    status = 401
    code = "not_authenticated"
    default_message = _("请先登录。")


class Conflict(DomainError):
    status = 409
    code = "conflict"
    default_message = _("操作与当前状态冲突。")


class StaleVersion(Conflict):
    code = "stale_version"
    default_message = _("记录已被他人修改，请刷新后重试。")


class InvalidInput(DomainError):
    status = 422
    code = "invalid"
    default_message = _("提交的数据无效。")


class RuleRefused(DomainError):
    """A standard's clause refused the write; ``details`` cites the clause."""

    status = 422
    code = "rule_refused"
    default_message = _("不符合标准条款要求。")


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"
    default_message = _("请求过于频繁，请稍后再试。")
