"""Settings: typed, frozen, from flags > environment > config files > defaults, and what
an error in them says (`settings`); the way to the API they give: proxy and extra CAs
(`network`)."""

from worker.config.network import ca_files, proxy_for
from worker.config.settings import Settings, default, load_settings

__all__ = ["Settings", "ca_files", "default", "load_settings", "proxy_for"]
