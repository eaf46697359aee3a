"""Django app config of the target."""

from __future__ import annotations

from django.apps import AppConfig


class TargetConfig(AppConfig):
    name = "targets.django_app"
    label = "django_app"
    default_auto_field = "django.db.models.BigAutoField"
