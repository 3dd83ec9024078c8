"""The wire layer: upstream client, SSE, error types, ASGI helpers, read deadlines, tracing, backend settings.

Everything above (flags, monitors, shadow, the server, the simulator) may import it; it imports none of them.
"""
