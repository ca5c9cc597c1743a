"""Shared helpers for the test suite (real files and services, no mocks)."""
