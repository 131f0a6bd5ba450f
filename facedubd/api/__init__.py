"""The REST API: app factory, routers, schemas (the wire contract), auth, limits, SSE."""
