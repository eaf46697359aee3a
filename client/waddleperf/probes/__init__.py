"""Probes: one module per kind, one registry, shared statistics and target parsing."""
