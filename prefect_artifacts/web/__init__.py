"""The browser UI: ``prefect-artifacts ui`` or ``create_app(repository)``."""

from .app import create_app

__all__ = ["create_app"]
