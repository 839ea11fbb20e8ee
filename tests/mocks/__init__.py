"""Tests of the fake IB Gateway against the real client libraries."""
