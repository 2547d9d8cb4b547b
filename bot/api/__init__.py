"""The pieces of the HTTP server (`bot.server`): errors, access control, metrics, CORS, and the routes of the
HTTP API."""

__all__: list[str] = []
