"""Keyset pagination: ``?limit=&cursor=``, newest first, answered as ``{items, next_cursor}``."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

import marshmallow as ma
from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import Session

from shared.problems import validation


class PageArgs(ma.Schema):
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=200))
    cursor = ma.fields.String(load_default=None)


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    return type(
        name,
        (ma.Schema,),
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema)),
            "next_cursor": ma.fields.String(allow_none=True),
        },
    )


def _encode(sort_value: datetime, row_id: str) -> str:
    raw = json.dumps([sort_value.isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        sort_text, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return datetime.fromisoformat(sort_text), str(row_id)
    except Exception:
        raise validation({"cursor": ["Not a cursor this API issued."]}) from None


def paginate(
    session: Session, query: Select, sort_column, id_column, *, limit: int, cursor: str | None
) -> dict[str, Any]:
    """Newest first by ``sort_column``, ties broken by id; stable under concurrent inserts."""
    if cursor:
        sort_value, row_id = _decode(cursor)
        query = query.where(
            or_(sort_column < sort_value, and_(sort_column == sort_value, id_column < row_id))
        )
    rows = session.execute(
        query.order_by(sort_column.desc(), id_column.desc()).limit(limit + 1)
    ).scalars().all()
    items, more = rows[:limit], len(rows) > limit
    next_cursor = None
    if more:
        last = items[-1]
        next_cursor = _encode(getattr(last, sort_column.key), getattr(last, id_column.key))
    return {"items": items, "next_cursor": next_cursor}
