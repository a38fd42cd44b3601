"""modelspan's Elasticsearch foundations: how to reach it and where the data lives.

- :mod:`modelspan.elasticsearch.connection`: every connection setting (URL, Cloud ID, API key, basic
  auth, credentials in the URL, CA file, verification, extra headers) read once, and "is
  Elasticsearch configured?";
- :mod:`modelspan.elasticsearch.layout`: data streams, index names and document field names;
- :mod:`modelspan.elasticsearch.templates`: index templates, ILM policies and index mappings.

The exporter, the analyzer's store, incident correlation, ``modelspan elastic`` and the Kibana
generator build on these. Importing this package never imports the ``elasticsearch`` client
library (an extra): ``clients.client()`` does, when called.
"""
