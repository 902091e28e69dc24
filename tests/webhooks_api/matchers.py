"""Stand-ins for values a test cannot know in advance (ids, timestamps): equal to any string of their shape.

assert response.json() == {"id": WEBHOOK_ID, "createdAt": TIMESTAMP, "url": "https://..."}
"""

import re
from typing import Any


class Shaped:
    def __init__(self, pattern: str, label: str) -> None:
        self.pattern = re.compile(pattern)
        self.label = label

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, str) and self.pattern.fullmatch(other) is not None

    def __hash__(self) -> int:
        return hash(self.label)

    def __repr__(self) -> str:
        return f"<any {self.label}>"


TIMESTAMP = Shaped(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", "timestamp (UTC, milliseconds, Z)")
WEBHOOK_ID = Shaped(r"wh_[0-9a-f]{24}", "webhook id")
EVENT_ID = Shaped(r"[0-9a-f]{24}", "event id")
TEST_EVENT_ID = Shaped(r"test_[0-9a-f]{24}", "test event id")
DELIVERY_ID = Shaped(r"[1-9][0-9]*", "delivery id")
GENERATED_SECRET = Shaped(r"whsec_[A-Za-z0-9+/]{32}", "generated secret (whsec_ + base64 of 24 bytes)")
