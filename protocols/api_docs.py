"""The API docs page both sides serve at `/docs` (api_docs.html beside this module, package
data): it renders the side's own `./openapi.json` with its script and style inline, so it works
in a store with no internet. The sides read the file; this module only names it."""

from __future__ import annotations

PAGE = "api_docs.html"
# the page may load nothing from elsewhere: its script and style are inline, it fetches only
# its own origin's openapi.json and the calls "Send" makes
CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'"
)
