"""URL map of the Django target (same paths as the Flask target)."""

from __future__ import annotations

from django.urls import path

from targets.django_app import views

urlpatterns = [
    path("", views.index),
    path("api/data/", views.data),
    path("api/task/", views.task),
    path("api/error/", views.error),
    path("api/warmup/", views.warmup),
]
