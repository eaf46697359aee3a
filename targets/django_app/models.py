"""The TestData table (same name and columns as the Flask target's)."""

from __future__ import annotations

from datetime import datetime

from django.db import models

from targets.common.api import TABLE


class TestData(models.Model):
    # explicit generics: the targets type-check without the django-stubs mypy plugin
    name: models.CharField[str, str] = models.CharField(max_length=64)
    value: models.FloatField[float, float] = models.FloatField()
    created_at: models.DateTimeField[datetime, datetime] = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = TABLE
        ordering = ("-id",)
