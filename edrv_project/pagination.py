from rest_framework.pagination import LimitOffsetPagination


class Pagination(LimitOffsetPagination):
    """`?limit=&offset=` on every list; the page carries `count`, `next`, `previous`, `results`."""

    default_limit = 50
    max_limit = 500
