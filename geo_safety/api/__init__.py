"""HTTP surface: parse, call a service, format. No SQL here."""
