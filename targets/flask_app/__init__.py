"""The Flask target: the same API as the Django target, on a plain DB-API connection."""
