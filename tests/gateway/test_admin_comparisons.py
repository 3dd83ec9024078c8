"""GET /admin/comparisons: filters, paging, errors."""

from __future__ import annotations

import httpx

from tests.conftest import Gateway, chat_body, wait_for_pairs


async def test_list_filter_and_show(shadow_gateway: Gateway) -> None:
    async with shadow_gateway.client() as client:
        for category in ("json", "math", "math"):
            await client.post("/v1/chat/completions", json=chat_body(metadata={"category": category}))
    await wait_for_pairs(shadow_gateway, 3)
    async with shadow_gateway.admin() as admin:
        math = (await admin.get("/admin/comparisons", params={"category": "math", "since": "1h"})).json()
        future = (await admin.get("/admin/comparisons", params={"since": "2999-01-01T00:00:00"})).json()
        flips = (await admin.get("/admin/comparisons", params={"flips_only": "true"})).json()
        page = (await admin.get("/admin/comparisons", params={"limit": 1, "offset": 1})).json()
        detail = (await admin.get(f"/admin/comparisons/{math['comparisons'][0]['id']}")).json()
    assert math["total"] == 2 and {r["category"] for r in math["comparisons"]} == {"math"}
    assert future["total"] == 0 and flips["total"] == 0
    assert page["total"] == 3 and len(page["comparisons"]) == 1
    assert detail["candidate_stamp"]["quantization"] == "w8a8"
    assert detail["baseline_judgement"]["refused"] is False


async def test_bad_filters_are_400_and_unknown_id_404(shadow_gateway: Gateway) -> None:
    async with shadow_gateway.admin() as admin:
        bad_since = await admin.get("/admin/comparisons", params={"since": "yesterday"})
        bad_limit = await admin.get("/admin/comparisons", params={"limit": "0"})
        bad_flag = await admin.get("/admin/comparisons", params={"flips_only": "maybe"})
        missing = await admin.get("/admin/comparisons/999999")
        not_int = await admin.get("/admin/comparisons/abc")
    assert bad_since.status_code == 400 and "since" in bad_since.json()["error"]["message"]
    assert bad_limit.status_code == 400 and bad_flag.status_code == 400
    assert missing.status_code == 404 and not_int.status_code == 400
    async with httpx.AsyncClient(base_url=shadow_gateway.url) as anonymous:
        assert (await anonymous.get("/admin/comparisons")).status_code == 401
