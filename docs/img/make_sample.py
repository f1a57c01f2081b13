"""Regenerate docs/img/credit-report-sample.png (page 1 of a sample free credit report).

    PYTHONPATH=services/rating/src python docs/img/make_sample.py [--pdf out.pdf]

Needs the rating service's report dependencies plus pypdfium2 (rasterising only).
The data is fictitious.
"""

from __future__ import annotations

import argparse
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pypdfium2 as pdfium
from rating_service.credit_reports import CreditReport, render_credit_report_pdf
from rating_service.credit_reports.schemas import (
    Evidence,
    ListMembership,
    MeasureInForce,
    RepairEntry,
    ReportRecord,
    ReportSubject,
)

BEIJING = timezone(timedelta(hours=8))
OUT = Path(__file__).with_name("credit-report-sample.png")
WIDTH_PX = 1000


def sample_report() -> CreditReport:
    return CreditReport(
        subject=ReportSubject(type="enterprise", display_id="91210200MA0XXXXX3K", name="大连示例医药商贸有限公司"),
        generated_at=datetime(2020, 3, 16, 9, 30, tzinfo=BEIJING),
        verification_id="JCR-20200316-7F3A9C2D",
        records=(
            ReportRecord(
                code="E7",
                clause="二(三)7",
                behaviour_zh="虚假宣传、哄抬物价、囤积居奇、牟取暴利等扰乱市场秩序的：将进价0.6元的一次性医用口罩以每只5元销售",
                outcome="dishonest",
                list="dishonest",
                tier="general",
                state="active",
                occurred_on=date(2020, 2, 24),
                publicity_start=date(2020, 3, 2),
                publicity_end=date(2021, 3, 1),
                evidence=Evidence(
                    document_no="大市监罚〔2020〕12号", authority="大连市市场监督管理局", decided_on=date(2020, 3, 1)
                ),
            ),
            ReportRecord(
                code="W4",
                clause="一.4",
                behaviour_zh="复工后未按规定对办公场所、食堂、宿舍进行消毒",
                outcome="key_warning",
                list="key_warning",
                state="disputed",
                occurred_on=date(2020, 2, 26),
                publicity_start=date(2020, 2, 28),
                publicity_end=date(2020, 5, 28),
            ),
            ReportRecord(
                code="G5",
                clause="二(一)5",
                behaviour_zh="向湖北省及本市疫情防控一线捐赠医用防护物资",
                outcome="red",
                list="red",
                state="expired",
                occurred_on=date(2020, 2, 3),
                publicity_start=date(2020, 2, 21),
                publicity_end=date(2020, 3, 10),
            ),
        ),
        lists=(
            ListMembership(key="dishonest", since=date(2020, 3, 2), until=date(2021, 3, 1)),
            ListMembership(key="key_warning", since=date(2020, 2, 28), until=date(2020, 5, 28)),
        ),
        measures=(
            MeasureInForce(
                kind="punishment",
                code="P1",
                text_zh="限制股票发行、招标投标、申请财政性资金项目、享受税收优惠等行政性惩戒措施",
                agency_name_zh="大连市公共资源交易中心",
                since=date(2020, 3, 3),
            ),
            MeasureInForce(
                kind="punishment",
                code="P2",
                text_zh="限制获得授信、乘坐飞机、乘坐高等级列车和席次等市场性惩戒措施",
                agency_name_zh="中国人民银行大连市中心支行",
                since=date(2020, 3, 3),
            ),
        ),
        repairs=(
            RepairEntry(
                id="RP-2020-000031",
                status="re_review",
                record_code="E7",
            ),
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdf", type=Path, help="also write the PDF here")
    args = parser.parse_args()
    data = render_credit_report_pdf(sample_report())
    if args.pdf:
        args.pdf.write_bytes(data)
    page = pdfium.PdfDocument(data)[0]
    page.render(scale=WIDTH_PX / page.get_width()).to_pil().convert("RGB").save(OUT, optimize=True)
    print(f"wrote {OUT} from a {len(data)}-byte PDF")


if __name__ == "__main__":
    main()
