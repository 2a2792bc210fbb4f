"""One page of a queryset in the API's shape: count, page, pages and results."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet


def page_of(queryset: QuerySet[Any], page: int, page_size: int) -> dict[str, Any]:
    """`page` is clamped into range (Django's get_page); `page_size` must already be bounded."""
    paginator = Paginator(queryset, max(1, page_size))
    page_obj = paginator.get_page(page)
    return {
        "count": paginator.count,
        "page": page_obj.number,
        "pages": paginator.num_pages,
        "results": list(page_obj.object_list),
    }
