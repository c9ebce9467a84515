"""Allocating materialised paths: parent path + a 4-character base-36 sibling number."""

from __future__ import annotations

from django.db import models

from .models import PATH_STEP

_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MAX_SIBLINGS = 36**PATH_STEP - 1


def encode(number: int) -> str:
    if not 0 < number <= MAX_SIBLINGS:
        raise ValueError(f"sibling number {number} out of range")
    out = ""
    for _ in range(PATH_STEP):
        number, rem = divmod(number, 36)
        out = _DIGITS[rem] + out
    return out


def decode(segment: str) -> int:
    value = 0
    for ch in segment:
        value = value * 36 + _DIGITS.index(ch)
    return value


def next_child_path(model: type[models.Model], parent_path: str) -> str:
    """The next free path under ``parent_path`` (``""`` for a root).

    Must be called inside the writing transaction, after locking the parent row (or,
    for roots, under SQLite's IMMEDIATE lock / a PostgreSQL advisory lock), so two
    writers cannot take the same number; the unique index on ``path`` is the backstop.
    """
    depth = parent_path.count(".")
    last = (
        model._default_manager.filter(path__startswith=parent_path, depth=depth)
        .order_by("-path")
        .values_list("path", flat=True)
        .first()
    )
    number = decode(last[len(parent_path) : len(parent_path) + PATH_STEP]) + 1 if last else 1
    return f"{parent_path}{encode(number)}."


def subtree_ids(model: type[models.Model], pk: int) -> list[int] | None:
    """Ids of ``pk``'s subtree (itself included), resolved up front; None if there is no
    such node."""
    path = model.objects.filter(pk=pk).values_list("path", flat=True).first()
    if path is None:
        return None
    return list(model.objects.filter(path__startswith=path).values_list("pk", flat=True))
