"""The technician's admin pages on every gateway (`/admin/`): a cookie-authenticated area apart
from the lanes' bearer-token API. See docs/admin.md."""

from edge.admin.pages import PREFIX, Admin

__all__ = ["PREFIX", "Admin"]
