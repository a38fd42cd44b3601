"""Where spans, outcomes and findings are kept: the embedded SQLite store or Elasticsearch."""
