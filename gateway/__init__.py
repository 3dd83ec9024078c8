"""The HTTP surface of quantgate: OpenAI-compatible proxy, SSE streaming, routing, admin API.

Deliberately empty: lower layers (shadow, simulator) use the wire modules here (errors, sse, upstream), and
importing a package must not drag the whole app in with it (that made `import shadow.mirror` circular).
"""
