"""/admin/docs: Swagger UI from assets the gateway serves itself (FastAPI's default loads them from a CDN, which
leaves the page blank in an air-gapped cluster)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import HTMLResponse

DOCS_URL = "/admin/docs"
ASSETS_URL = "/admin/docs/assets"
OPENAPI_URL = "/admin/openapi.json"


def add_self_hosted_docs(app: FastAPI) -> None:
    """Mount Swagger UI's assets from the `swagger_ui_bundle` package and the page that loads them."""
    from starlette.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount(ASSETS_URL, StaticFiles(directory=swagger_ui_path), name="swagger-ui-assets")

    async def docs(_: Request) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=OPENAPI_URL, title=f"{app.title} - Swagger UI",
                                   swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
                                   swagger_favicon_url=f"{ASSETS_URL}/favicon-32x32.png")

    app.add_route(DOCS_URL, docs, methods=["GET"], include_in_schema=False)
