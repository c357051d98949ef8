"""Retrievers (dense, keyword) and how their rankings are fused."""
