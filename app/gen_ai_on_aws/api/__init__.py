"""The HTTP layer: app factory, routes, dependencies, middleware and error handling."""
