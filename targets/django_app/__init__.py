"""The Django target: the same API as the Flask target, on Django's ORM."""
