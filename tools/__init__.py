"""The repository's own tools."""
