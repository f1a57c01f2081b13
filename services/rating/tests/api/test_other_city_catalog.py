"""Another city is a new catalog file, not a code change (DESIGN §2): the real rating service, started with
``JC_CATALOG_PATH`` naming a made-up city's catalog, prints that catalog's wording in the credit report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib import resources

import pypdfium2 as pdfium
import pytest
import yaml

from jointcredit_common.catalog import load_catalog
from jointcredit_common.catalog.models import BUNDLED_CATALOG, _configured_path
from jointcredit_common.testing.factories import uscc

TODAY = (datetime.now(UTC) + timedelta(hours=8)).date()
PENALTY = {"kind": "administrative_penalty", "document_no": "海市监罚〔2020〕3号", "authority": "海滨市市场监督管理局",
           "decided_on": (TODAY - timedelta(days=15)).isoformat()}
DOCUMENT_NO = "海信办字〔2020〕7号"

pytestmark = pytest.mark.consumers  # the report reaches rating as an event


@pytest.fixture
def other_city(tmp_path, monkeypatch):
    """The bundled catalog with a made-up city's title, document number and report wording, as the catalog in force."""
    data = yaml.safe_load(resources.files("jointcredit_common.catalog").joinpath(BUNDLED_CATALOG).read_text("utf-8"))
    data |= {"title_zh": "海滨市关于疫情期间信用管理的通知", "document_no": DOCUMENT_NO}
    # Every fact the report's sentences may use, so the test also proves the code passes them all.
    data["templates_zh"]["credit_report"] = {
        "issuer": "海滨市信用信息中心",
        "site": "信用海滨",
        "disclaimer": "本报告依据《{title}》（{document_no}）由{issuer}（{site}）生成，修复{days}日内办结。",
        "free_statement": "依据{document_no}免费出具。",
        "no_repair": "暂无修复申请（{site}）。",
    }
    path = tmp_path / "haibin-2020-7.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("JC_CATALOG_PATH", str(path))
    _configured_path.cache_clear()  # read once per process: make this process read it again
    try:
        yield load_catalog()
    finally:
        monkeypatch.delenv("JC_CATALOG_PATH")
        _configured_path.cache_clear()


async def test_credit_report_prints_the_wording_of_the_catalog_in_force(other_city, rating_app, kit):
    assert other_city.document_no == DOCUMENT_NO
    shop = kit.Subject("enterprise", uscc(850_701), "海滨示例药房有限公司")
    async with rating_app() as (app, client):
        runtime = app.state.runtime
        event = kit.report_event(shop, "E7", occurred_on=TODAY - timedelta(days=40), evidence=PENALTY)
        await kit.publish(runtime.settings.kafka_bootstrap_servers, runtime.topic("reports"), [event])
        await kit.wait_classified(runtime, [event.data["report_id"]])

        body = (await client.get(f"/v1/subjects/enterprise/{shop.id}/report")).json()
        assert body["catalog_reference"] == DOCUMENT_NO
        assert body["disclaimer_zh"] == ("本报告依据《海滨市关于疫情期间信用管理的通知》（海信办字〔2020〕7号）"
                                         "由海滨市信用信息中心（信用海滨）生成，修复1日内办结。")
        pdf = (await client.get(f"/v1/subjects/enterprise/{shop.id}/report.pdf")).content

    text = "".join(page.get_textpage().get_text_range() for page in pdfium.PdfDocument(pdf)).replace("\r\n", "")
    for needle in ("海滨市信用信息中心（信用海滨）出具", "依据海信办字〔2020〕7号免费出具。", "暂无修复申请（信用海滨）。"):
        assert needle in text, needle
    for dalian in ("信用大连", "大信办字〔2020〕4号", "第三条第（一）项"):
        assert dalian not in text, dalian
