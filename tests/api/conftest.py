"""What the API tests share: the question asked of the report in English."""

from __future__ import annotations

QUESTION = "Who was elected INTERPOL President?"
