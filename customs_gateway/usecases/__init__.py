"""The gateway's use cases, one module each; the HTTP routes and the consumers call them (customs_gateway/app.py,
api.py). What they share is the context (context.py); facade.py binds them to it for tests and tools."""
