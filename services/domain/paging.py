"""AutoGPT's ``Pagination`` block of every paged list (pure): one formula for every context."""

from __future__ import annotations

from pydantic import BaseModel


class Pagination(BaseModel):
    total_items: int
    total_pages: int
    current_page: int
    page_size: int


def pagination(total_items: int, page: int, page_size: int) -> dict[str, int]:
    """``total_pages`` is ``ceil(total / size)``, so 0 for an empty list (as AutoGPT computes it)."""
    return {"total_items": total_items, "total_pages": (total_items + page_size - 1) // page_size,
            "current_page": page, "page_size": page_size}
