"""Settings: typed, frozen, from flags > environment > config files > defaults, and what
an error in them says (`settings`)."""

from worker.config.settings import Settings, default, load_settings

__all__ = ["Settings", "default", "load_settings"]
