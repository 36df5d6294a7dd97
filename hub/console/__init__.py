"""The HQ console: server-rendered pages from the hub (Jinja2, small vanilla JS, every asset
served by the hub itself), signed in with the hub's accounts. docs/console.md: adding a page."""
