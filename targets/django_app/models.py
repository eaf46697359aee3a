"""The TestData table (same name and columns as the Flask target's)."""

from __future__ import annotations

from django.db import models

from targets.common.api import TABLE


class TestData(models.Model):
    name = models.CharField(max_length=64)
    value = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = TABLE
        ordering = ("-id",)
