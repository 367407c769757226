"""Typed data at the seams: the GeoJSON features, collections and plans that services build, the planner and the
map renderer read and the API answers with. Pure pydantic: nothing here imports services, the API, the
database, the SQL package, layers, maps or the command line (``tests/test_architecture.py``)."""
