"""The analyzer: turns the store's sufficient statistics into findings.

Statistics live in small pure modules (``drift``, ``multiple_testing``, ``thresholds``,
``quality``, ``latency``) so both store backends share one implementation of every number.
"""
