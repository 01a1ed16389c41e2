"""Locustfiles shipped with bankscore-bench, for ``locust -f``: ``bankscore-bench --locustfile`` prints the path.

They live in their own folder because Locust puts a locustfile's folder on ``sys.path`` while it imports it.
"""
