"""Utilities (testing helpers live in ``skautodl.utils._testing``)."""
