"""Fixtures shared by every test directory."""

pytest_plugins = ["servers.buckets"]
