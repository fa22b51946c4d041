"""The projection's name in the positions tables (``projection_streams``, ``projection_positions``).

A module of its own so that readers of those tables (the query API's read fences, metrics) name
the projection without loading the projections themselves.
"""

PROJECTION_NAME = "read_models"
