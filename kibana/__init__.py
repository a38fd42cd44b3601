"""Generator of the Kibana saved objects, watches and rules in this folder (run ``python -m kibana.build``)."""
