"""Fixtures for the finance-report tests: the repository's chart and templates, the scripted books (support.report_books)."""

from __future__ import annotations

from support.report_books import catalogue, chart, clean, full

__all__ = ["catalogue", "chart", "clean", "full"]
