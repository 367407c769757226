"""Use cases: each owns its transaction, runs the statements of ``geo_safety.sql`` and applies the rules."""
