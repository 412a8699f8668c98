"""Staff lists: search, filters, sorting and pagination from the query string, in one shape.

A page builds a :class:`Listing` from the request's query (``q``, ``sort``, ``dir``, ``page`` and
the filters it names); the service applies it to its select with :meth:`Listing.fetch`, which
counts the rows, orders by a column the page allowed (never by a name from the URL) and reads one
page. Templates draw the sortable headers and the pager from it (``ui.sort_th``, ``ui.pager``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy.orm import Session

MAX_PER_PAGE = 100


@dataclass(frozen=True)
class Listing:
    sorts: tuple[str, ...]
    sort: str
    desc: bool = False
    q: str = ""
    page: int = 1
    per_page: int = 20
    filters: Mapping[str, str] = field(default_factory=dict)
    total: int = 0

    @classmethod
    def from_query(
        cls,
        query: Mapping[str, str],
        *,
        sorts: Sequence[str],
        default: str,
        desc: bool = False,
        filters: Sequence[str] = (),
        per_page: int = 20,
    ) -> Listing:
        """Read a list's state from a query string; anything unknown or malformed falls back to the
        list's default (a hand-edited URL never errors, and never sorts by an unlisted column)."""
        sort = query.get("sort", default)
        if sort not in sorts:
            sort = default
        direction = query.get("dir")
        is_desc = desc if sort == default and direction not in ("asc", "desc") else direction == "desc"
        try:
            page = max(1, min(int(query.get("page", "1")), 1_000_000))
        except ValueError:
            page = 1
        chosen = {k: query[k].strip() for k in filters if query.get(k, "").strip()}
        return cls(
            sorts=tuple(sorts),
            sort=sort,
            desc=is_desc,
            q=query.get("q", "").strip()[:100],
            page=page,
            per_page=max(1, min(per_page, MAX_PER_PAGE)),
            filters=chosen,
        )

    def filter(self, name: str) -> str:
        return self.filters.get(name, "")

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def first(self) -> int:
        return 0 if self.total == 0 else (self.page - 1) * self.per_page + 1

    @property
    def last(self) -> int:
        return min(self.total, self.page * self.per_page)

    def fetch(
        self, session: Session, stmt: sa.Select[Any], columns: Mapping[str, Any], *, scalars: bool = True
    ) -> tuple[list[Any], Listing]:
        """One page of ``stmt`` ordered by ``columns[self.sort]`` (then by the first column, so
        pages never overlap), and the listing with its total filled in."""
        total = session.execute(
            sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())
        ).scalar_one()
        done = replace(self, total=int(total))
        page = min(done.page, done.pages)
        done = replace(done, page=page)
        key = columns[self.sort]
        tie = next(iter(columns.values()))
        ordered = stmt.order_by(None).order_by(key.desc() if self.desc else key.asc(), tie.asc())
        result = session.execute(ordered.offset((page - 1) * self.per_page).limit(self.per_page))
        rows = list(result.scalars()) if scalars else list(result)
        return rows, done

    def url(self, **changes: Any) -> str:
        """The query string of this list with ``changes`` (``page=2``, ``sort="name"``, ...)."""
        state: dict[str, Any] = {"q": self.q, **self.filters, "sort": self.sort}
        state["dir"] = "desc" if self.desc else "asc"
        state["page"] = self.page
        state.update(changes)
        return "?" + urlencode(
            {k: v for k, v in state.items() if v not in ("", None) and not (k == "page" and v == 1)}
        )

    def sort_url(self, key: str) -> str:
        """Sort by ``key``; the column already sorted by turns around."""
        desc = not self.desc if key == self.sort else False
        return self.url(sort=key, dir="desc" if desc else "asc", page=1)
