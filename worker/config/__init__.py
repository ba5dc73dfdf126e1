"""Settings: typed, frozen, from flags > environment > config files > defaults
(`settings`), and what an error in them says (`messages`)."""

from worker.config.settings import (
    DEFAULT_BASE_URL,
    FLAGGED,
    Settings,
    default,
    default_config_path,
    is_loopback,
    load_settings,
)

__all__ = ["DEFAULT_BASE_URL", "FLAGGED", "Settings", "default", "default_config_path",
           "is_loopback", "load_settings"]
