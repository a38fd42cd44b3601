"""Span exporters: Elasticsearch (direct), and the embedded SQLite store."""
