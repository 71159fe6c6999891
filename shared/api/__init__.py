"""The HTTP API: an app factory, its dependencies, routes and error mapping."""
