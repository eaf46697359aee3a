"""What the Django and Flask targets share: payload shapes, pagination, settings, task queue.

Both apps must answer byte-for-byte alike, so everything that is not framework glue lives here.
"""
