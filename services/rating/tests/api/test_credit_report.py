"""The free credit report (免费信用报告, 三(一)): JSON and Chinese PDF from the real service, with a
verification id anyone can check; the PDF is rasterised to PNG and its Chinese glyphs checked by pixels."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime, timedelta
from itertools import combinations

import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageChops

from jointcredit_common.testing.factories import uscc

pytestmark = pytest.mark.consumers  # events flow into the app under test

TODAY = (datetime.now(UTC) + timedelta(hours=8)).date()
PENALTY = {"kind": "administrative_penalty", "document_no": "大市监罚〔2020〕12号", "authority": "大连市市场监督管理局",
           "decided_on": (TODAY - timedelta(days=15)).isoformat()}
SCALE = 2.0


def char_boxes(page, needle: str) -> list[list[tuple[float, float, float, float]]]:
    textpage = page.get_textpage()
    searcher = textpage.search(needle)
    found = []
    while hit := searcher.get_next():
        start, count = hit
        found.append([textpage.get_charbox(i) for i in range(start, start + count)])
    return found


def crop(image: Image.Image, box, page_height: float) -> Image.Image:
    left, bottom, right, top = box
    return image.crop((int(left * SCALE), int((page_height - top) * SCALE), int(right * SCALE) + 1,
                       int((page_height - bottom) * SCALE) + 1))


def dark_fraction(image: Image.Image) -> float:
    histogram = image.histogram()
    return sum(histogram[:128]) / sum(histogram)


def bitmap(image: Image.Image) -> Image.Image:
    return image.resize((32, 32)).point(lambda v: 255 if v < 128 else 0)


def differing(a: Image.Image, b: Image.Image) -> float:
    diff = ImageChops.difference(a, b)
    return sum(diff.histogram()[1:]) / (diff.width * diff.height)


async def test_enterprise_report_json_and_pdf_render_chinese_glyphs_with_a_verification_id(rating_app, kit, tmp_path):
    name = "大连示例医药商贸有限公司"
    shop = kit.Subject("enterprise", uscc(850_001), name)
    async with rating_app() as (app, client):
        runtime = app.state.runtime
        events = [
            kit.report_event(shop, "E7", occurred_on=TODAY - timedelta(days=40), evidence=PENALTY),
            kit.report_event(shop, "W2", occurred_on=TODAY - timedelta(days=5)),
        ]
        await kit.publish(runtime.settings.kafka_bootstrap_servers, runtime.topic("reports"), events)
        await kit.wait_classified(runtime, [e.data["report_id"] for e in events])

        body = (await client.get(f"/v1/subjects/enterprise/{shop.id}/report")).json()
        assert body["subject"] == {"type": "enterprise", "display_id": shop.id, "name": name}
        assert [r["code"] for r in body["records"]] == ["E7", "W2"]
        assert {m["key"] for m in body["lists"]} == {"dishonest", "key_warning"}
        assert {m["code"] for m in body["measures"]} == {"P1", "P2", "P3", "P4", "P6", "N1", "N2"}
        p2 = next(m for m in body["measures"] if m["code"] == "P2")
        assert "航空公司" in p2["agency_name_zh"] and "限制获得授信" in p2["text_zh"]
        verified = (await client.get(body["verify_at"])).json()
        assert verified["valid"] and verified["content_sha256"] == body["content_sha256"]
        assert verified["summary"]["records"] == 2 and verified["format"] == "json"

        response = await client.get(f"/v1/subjects/enterprise/{shop.id}/report.pdf")
        assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
        verification_id = response.headers["x-verification-id"]
        assert verification_id.startswith("JCR-") and verification_id != body["verification_id"]
        assert (await client.get(f"/v1/public/credit-reports/{verification_id}")).json()["format"] == "pdf"
        assert (await client.get("/v1/public/credit-reports/JCR-00000000-NOPE")).status_code == 404
        pdf = response.content

    doc = pdfium.PdfDocument(pdf)
    page = doc[0]
    text = "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    for needle in ("信用报告", name, "E7", "二(三)7", "大市监罚〔2020〕12号", "失信名单", "重点警示名单", verification_id):
        assert needle in text.replace("\r", ""), needle
    image = page.render(scale=SCALE).to_pil().convert("L")
    png = tmp_path / "credit-report-page1.png"
    image.save(png)
    rendered = Image.open(io.BytesIO(png.read_bytes())).convert("L")
    height = page.get_height()

    # The title: four real, distinct glyphs (missing glyphs would all be the same .notdef box or blank).
    title = max(char_boxes(page, "信用报告"), key=lambda boxes: boxes[0][3] - boxes[0][1])
    glyphs = [crop(rendered, box, height) for box in title]
    assert all(dark_fraction(g) > 0.08 for g in glyphs)
    for a, b in combinations([bitmap(g) for g in glyphs], 2):
        assert differing(a, b) > 0.15
    # The subject's Chinese name is inked too.
    (name_boxes,) = char_boxes(page, name)[:1]
    region = (name_boxes[0][0], min(b[1] for b in name_boxes), name_boxes[-1][2], max(b[3] for b in name_boxes))
    assert dark_fraction(crop(rendered, region, height)) > 0.05
    assert hashlib.sha256(png.read_bytes()).hexdigest()  # a real PNG was written


async def test_citizen_report_needs_a_credential_and_is_masked(rating_app, kit, tokens):
    person = kit.Subject("citizen", kit.resident_id(401), "张小三")
    police = {**PENALTY, "document_no": "大公（中）行罚决字〔2020〕88号", "authority": "大连市公安局中山分局"}
    async with rating_app() as (app, client):
        runtime = app.state.runtime
        event = kit.report_event(person, "C2", occurred_on=TODAY - timedelta(days=40), evidence=police,
                                 department="public_security")
        await kit.publish(runtime.settings.kafka_bootstrap_servers, runtime.topic("reports"), [event])
        await kit.wait_record(runtime, event.data["report_id"])
        url = f"/v1/subjects/citizen/{person.id}/report"
        assert (await client.get(url)).status_code == 401
        assert (await client.get(f"/v1/subjects/citizen/{person.id}")).status_code == 401  # same rule for the record view
        assert (await client.get(url, headers=kit.auth("jc_nope"))).status_code == 401
        body = (await client.get(url, headers=kit.auth(tokens("admin")))).json()
        assert body["subject"]["name"] == "张*三" and body["subject"]["display_id"] == person.id[:4] + "*" * 10 + person.id[-4:]
        pdf = (await client.get(url + ".pdf", headers=kit.auth(tokens("department", "public_security")))).content
        text = "".join(p.get_textpage().get_text_range() for p in pdfium.PdfDocument(pdf))
        assert "张*三" in text and person.id not in text and "张小三" not in text
        assert (await client.get(f"/v1/subjects/citizen/{person.id[:-1]}0/report",
                                 headers=kit.auth(tokens("admin")))).status_code in (404, 422)
        assert (await client.get(f"/v1/subjects/enterprise/{uscc(850_999)}/report")).status_code == 404
