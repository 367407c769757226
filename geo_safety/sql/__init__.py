"""The statements the services run against the system of record, one module per kind of data.

Each statement is a module-level ``sqlalchemy.text`` constant (its ``#:`` comment names the binds) or a small
builder for statements that name a table or column chosen at run time; such names go through
:mod:`geo_safety.sql.ident`, which knows only the schema's names. The services import these and keep the
transactions and the Python logic. The spatial reads (due list, hotspots, feature pages, reports), built with
SQLAlchemy Core, are :mod:`geo_safety.sql.reads`. The package imports layers, rules, crs, db, settings and errors
only.
"""
