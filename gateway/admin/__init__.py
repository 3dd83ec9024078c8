"""The control plane: admin routers per resource on FastAPI, one authentication dependency, an OpenAPI contract.

`app.create_admin_api` builds it; the completion paths stay pure ASGI (`gateway.proxy`) and are only described in
the same OpenAPI document (`openapi.py`).
"""
