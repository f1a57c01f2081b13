"""The free credit report PDF (大信办字〔2020〕4号 三(一)): real Chinese glyphs, embedded font,
the six sections, masked citizen data, wrapping and page numbers.

The PDF is rasterised with pdfium (pypdfium2) so that missing glyphs (tofu boxes, blank
text) fail the tests, not only a wrong byte in the file.
"""

from __future__ import annotations

import io
import re
import zlib
from datetime import UTC, date, datetime, timedelta, timezone
from itertools import combinations

import pydantic
import pypdfium2 as pdfium
import pytest
from fontTools.cffLib import CFFFontSet
from PIL import Image, ImageChops
from rating_service.credit_reports import CreditReport, render_credit_report_pdf
from rating_service.credit_reports.schemas import (
    Evidence,
    ListMembership,
    MeasureInForce,
    RepairEntry,
    ReportRecord,
    ReportSubject,
)
from rating_service.credit_reports.pdf import cjk_font_path, wrap_zh

BEIJING = timezone(timedelta(hours=8))
SCALE = 2.0  # 144 dpi
PENALTY_NO = "大市监罚〔2020〕12号"
VERIFICATION_ID = "JCR-20200316-7F3A9C2D"
E7_TEXT = "虚假宣传、哄抬物价、囤积居奇、牟取暴利等扰乱市场秩序的：将进价0.6元的一次性医用口罩以每只5元销售"


def e7_record(**changes: object) -> ReportRecord:
    base: dict[str, object] = {
        "code": "E7",
        "clause": "二(三)7",
        "behaviour_zh": E7_TEXT,
        "outcome": "dishonest",
        "list": "dishonest",
        "tier": "general",
        "state": "active",
        "occurred_on": date(2020, 2, 24),
        "publicity_start": date(2020, 3, 2),
        "publicity_end": date(2021, 3, 1),
        "evidence": Evidence(document_no=PENALTY_NO, authority="大连市市场监督管理局", decided_on=date(2020, 3, 1)),
    }
    base.update(changes)
    return ReportRecord(**base)  # type: ignore[arg-type]


def enterprise_report(
    name: str = "大连示例医药商贸有限公司", records: tuple[ReportRecord, ...] | None = None
) -> CreditReport:
    return CreditReport(
        subject=ReportSubject(type="enterprise", display_id="91210200MA0XXXXX3K", name=name),
        generated_at=datetime(2020, 3, 16, 9, 30, tzinfo=BEIJING),
        verification_id=VERIFICATION_ID,
        records=(e7_record(),) if records is None else records,
        lists=(ListMembership(key="dishonest", since=date(2020, 3, 2), until=date(2021, 3, 1)),),
        measures=(
            MeasureInForce(
                kind="punishment",
                code="P2",
                text_zh="限制获得授信、乘坐飞机、乘坐高等级列车和席次等市场性惩戒措施",
                agency_name_zh="中国人民银行大连市中心支行",
                since=date(2020, 3, 3),
            ),
        ),
        repairs=(RepairEntry(id="RP-2020-000031", status="re_review", record_code="E7"),),
    )


def citizen_report() -> CreditReport:
    return CreditReport(
        subject=ReportSubject(type="citizen", display_id="2102**********123X", name="张*"),
        generated_at=datetime(2020, 3, 16, 1, 30, tzinfo=UTC),
        verification_id="JCR-20200316-0C1T12EN",
        records=(
            ReportRecord(
                code="C2",
                clause="二(四)2",
                behaviour_zh="不服从居家隔离管理，擅自离开隔离场所",
                outcome="dishonest",
                list="dishonest",
                tier="serious",
                state="disputed",
                occurred_on=date(2020, 2, 25),
                publicity_start=date(2020, 3, 5),
                publicity_end=date(2022, 3, 4),
                evidence=Evidence(document_no="大公（中）行罚决字〔2020〕88号", authority="大连市公安局中山分局"),
            ),
        ),
        lists=(ListMembership(key="dishonest", since=date(2020, 3, 5)),),
    )


def page_text(pdf: bytes, index: int = 0) -> str:
    return pdfium.PdfDocument(pdf)[index].get_textpage().get_text_range()


def all_text(pdf: bytes) -> str:
    doc = pdfium.PdfDocument(pdf)
    return "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))


def rasterise(pdf: bytes, index: int = 0) -> Image.Image:
    return pdfium.PdfDocument(pdf)[index].render(scale=SCALE).to_pil().convert("L")


def boxes_of(pdf: bytes, needle: str, index: int = 0) -> list[list[tuple[float, float, float, float]]]:
    """Character boxes (PDF points, origin bottom-left) of each occurrence of needle."""
    textpage = pdfium.PdfDocument(pdf)[index].get_textpage()
    searcher = textpage.search(needle)
    found = []
    while hit := searcher.get_next():
        start, count = hit
        found.append([textpage.get_charbox(i) for i in range(start, start + count)])
    return found


def crop(image: Image.Image, box: tuple[float, float, float, float], page_height: float = 841.89) -> Image.Image:
    left, bottom, right, top = box
    return image.crop(
        (
            int(left * SCALE),
            int((page_height - top) * SCALE),
            int(right * SCALE) + 1,
            int((page_height - bottom) * SCALE) + 1,
        )
    )


def dark_fraction(image: Image.Image) -> float:
    histogram = image.histogram()
    return sum(histogram[:128]) / sum(histogram)


def glyph_bitmap(image: Image.Image) -> Image.Image:
    return image.resize((32, 32)).point(lambda v: 255 if v < 128 else 0)


def differing_fraction(a: Image.Image, b: Image.Image) -> float:
    diff = ImageChops.difference(a, b)
    return sum(diff.histogram()[1:]) / (diff.width * diff.height)


@pytest.fixture(scope="module")
def enterprise_pdf() -> bytes:
    return render_credit_report_pdf(enterprise_report())


def test_report_embeds_a_subset_of_the_installed_noto_sans_sc(enterprise_pdf: bytes) -> None:
    assert enterprise_pdf.startswith(b"%PDF-")
    assert cjk_font_path().parent.name == "pylopdf_fonts_zh_cn"  # from the wheel, not the system
    assert re.search(rb"/BaseFont /[A-Z]{6}\+NotoSansSC\b", enterprise_pdf), "font not embedded as a subset"
    assert not re.search(rb"/BaseFont /(Helvetica|Times|Courier|STSong|MSung)", enterprise_pdf)
    ref = re.search(rb"/FontFile([23]?) (\d+) 0 R", enterprise_pdf)
    assert ref, "no embedded font program"
    stream = re.search(
        rb"\n" + ref.group(2) + rb" 0 obj\s*<<(.*?)>>\s*stream\r?\n(.*?)endstream", enterprise_pdf, re.DOTALL
    )
    assert stream
    program = zlib.decompress(stream.group(2))
    cff = CFFFontSet()
    cff.decompile(io.BytesIO(program), None)
    glyph_count = len(cff[cff.fontNames[0]].charset)
    # Every Chinese character used has its own glyph, and only those: a subset, not 31 000 glyphs.
    used = set(all_text(enterprise_pdf)) - set(" \r\n")
    assert len(used) <= glyph_count < 1000
    assert len(enterprise_pdf) < 150_000


def test_title_is_drawn_with_four_distinct_real_glyphs(enterprise_pdf: bytes) -> None:
    image = rasterise(enterprise_pdf)
    # The title is the largest occurrence of 信用报告 on page 1 (the subtitle repeats it small).
    title = max(boxes_of(enterprise_pdf, "信用报告"), key=lambda boxes: boxes[0][3] - boxes[0][1])
    assert title[0][3] - title[0][1] > 18  # points: the 26 pt title, not body text
    region = crop(image, (title[0][0], min(b[1] for b in title), title[-1][2], max(b[3] for b in title)))
    assert 0.12 < dark_fraction(region) < 0.6
    # Missing glyphs would all render as the same .notdef box: real ones differ from each other.
    glyphs = [glyph_bitmap(crop(image, box)) for box in title]
    for a, b in combinations(glyphs, 2):
        assert differing_fraction(a, b) > 0.15


def test_different_chinese_names_render_to_different_pixels() -> None:
    first = render_credit_report_pdf(enterprise_report(name="大连甲乙商贸有限公司"))
    second = render_credit_report_pdf(enterprise_report(name="大连丙丁商贸有限公司"))
    same = render_credit_report_pdf(enterprise_report(name="大连甲乙商贸有限公司"))
    (name_boxes,) = boxes_of(first, "大连甲乙商贸有限公司")
    differing = [box for box in name_boxes[2:4]]  # 甲乙 vs 丙丁, same position in both PDFs
    region = (differing[0][0], min(b[1] for b in differing), differing[-1][2], max(b[3] for b in differing))
    a, b, c = (crop(rasterise(pdf), region) for pdf in (first, second, same))
    assert dark_fraction(a) > 0.05 and dark_fraction(b) > 0.05
    assert differing_fraction(a.point(lambda v: v < 128 and 255), b.point(lambda v: v < 128 and 255)) > 0.1
    assert differing_fraction(a, c) == 0  # and the same name renders identically


def test_enterprise_report_reads_as_the_free_report_with_six_sections(enterprise_pdf: bytes) -> None:
    first_page = page_text(enterprise_pdf)
    assert "信用报告" in first_page
    assert VERIFICATION_ID in first_page  # page header carries it on every page
    text = all_text(enterprise_pdf)
    for heading in ("主体信息", "名单状态", "信用记录", "在执行的惩戒/激励措施", "信用修复", "报告验证"):
        assert heading in text
    for fact in (
        "大连市公共信用信息平台",
        "信用大连",
        "大信办字〔2020〕4号",
        "免费",
        PENALTY_NO,
        "大连市市场监督管理局",
        "失信名单",
        "重点警示名单",
        "守信红名单",
        "中国人民银行大连市中心支行",
        "RP-2020-000031",
        "复核中",
    ):
        assert fact in text, fact
    assert "不收取任何费用" in text


def test_price_gouging_record_shows_clause_penalty_and_publicity_period(enterprise_pdf: bytes) -> None:
    text = re.sub(r"\s+", "", all_text(enterprise_pdf))
    assert "E7" in text and "二(三)7" in text
    assert "哄抬物价" in text and "一般" in text and "公示中" in text
    assert "2020-03-02至2021-03-01" in text


def test_citizen_report_prints_masked_identity_only() -> None:
    pdf = render_credit_report_pdf(citizen_report())
    text = all_text(pdf)
    assert "2102**********123X" in text and "张*" in text
    assert "公民身份号码（已脱敏）" in text
    assert "异议处理中" in text and "严重" in text
    assert "2020-03-16 09:30（北京时间）" in text  # 01:30 UTC shown in Beijing time


def test_citizen_subject_with_an_unmasked_resident_id_is_refused() -> None:
    with pytest.raises(pydantic.ValidationError, match="masked"):
        ReportSubject(type="citizen", display_id="210202199001011234", name="张*")
    with pytest.raises(pydantic.ValidationError, match="masked"):
        ReportSubject(type="citizen", display_id="2102**********123X", name="张三")


def test_long_reports_wrap_inside_the_page_and_number_every_page() -> None:
    records = tuple(
        e7_record(behaviour_zh=f"第{i}次：" + E7_TEXT * 2, state=("active", "repaired", "expired")[i % 3])
        for i in range(1, 13)
    )
    pdf = render_credit_report_pdf(enterprise_report(records=records))
    doc = pdfium.PdfDocument(pdf)
    pages = len(doc)
    assert pages >= 3
    width = doc[0].get_width()
    for index in range(pages):
        textpage = doc[index].get_textpage()
        lefts_rights = [textpage.get_charbox(i) for i in range(textpage.count_chars())]
        xs = [(box[0], box[2]) for box in lefts_rights if box[2] > box[0]]
        # 15 mm margins = 42.5 pt: nothing runs off into them, so long text did wrap.
        assert min(x for x, _ in xs) >= 40 and max(x for _, x in xs) <= width - 40
        assert f"第 {index + 1} 页 / 共 {pages} 页" in textpage.get_text_range()
        assert VERIFICATION_ID in textpage.get_text_range()
    assert all_text(pdf).count("第12次") == 1


def test_subject_without_records_is_told_so_and_on_no_list() -> None:
    report = CreditReport(
        subject=ReportSubject(type="enterprise", display_id="91210200MA0XXXXX3K", name="大连守信制造有限公司"),
        generated_at=datetime(2020, 3, 16, 9, 30, tzinfo=BEIJING),
        verification_id="JCR-EMPTY-0001",
    )
    text = all_text(render_credit_report_pdf(report))
    assert "未归集到该主体的信用记录" in text
    assert text.count("未列入") == 3
    assert "无在执行的惩戒或激励措施" in text


def test_same_report_renders_to_the_same_bytes(enterprise_pdf: bytes) -> None:
    assert render_credit_report_pdf(enterprise_report()) == enterprise_pdf


def test_line_breaking_keeps_closing_punctuation_off_line_starts() -> None:
    text = "复工后未按规定对办公场所、食堂、宿舍进行消毒。"
    for width in range(4, 14):
        lines = wrap_zh(text, width, len).split("\n")
        assert "".join(lines) == text
        assert all(len(line) <= width for line in lines)
        assert not any(line[0] in "、。，" for line in lines[1:]), (width, lines)


def test_line_breaking_keeps_document_numbers_and_dates_whole() -> None:
    text = f"依据{PENALTY_NO}作出处罚，于2020-03-01送达"
    for width in range(10, 16):
        lines = wrap_zh(text, width, len).split("\n")
        assert "".join(lines) == text
        assert all(len(line) <= width for line in lines)
        assert not any(line.endswith("〔") for line in lines), (width, lines)
        assert any("2020-03-01" in line for line in lines), (width, lines)
        assert any("〔2020〕" in line for line in lines), (width, lines)


def test_list_names_follow_the_catalog_when_it_renames_a_list() -> None:
    names = {"key_warning": "重点警示名单", "red": "守信激励名单（红名单）", "dishonest": "失信名单"}
    report = enterprise_report().model_copy(update={"list_names_zh": names})
    text = all_text(render_credit_report_pdf(report))
    assert "守信激励名单（红名单）" in text and "守信红名单" not in text
    with pytest.raises(pydantic.ValidationError, match="lacks"):
        CreditReport(**{**enterprise_report().model_dump(), "list_names_zh": {"red": "红名单"}})
