"""geo_safety: the spatial system of record of a city's campus-safety programme."""

__version__ = "0.1.0"
