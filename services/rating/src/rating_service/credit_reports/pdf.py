"""The free credit report (免费信用报告, 大信办字〔2020〕4号 三(一)) as an A4 Chinese PDF.

Font choice (why fpdf2 + pylopdf-fonts-zh-cn):
- The PDF must embed a CJK font that installs without root, i.e. from a PyPI wheel, and is
  found at run time from the installed package (never downloaded).
- The OFL-licensed CJK fonts on PyPI are mostly CFF-outline OpenType (Noto Sans/Serif CJK,
  Source Han). reportlab embeds only TrueType (glyf) outlines, so it cannot use them. The one
  glyf CJK wheel found (Noto Sans SC variable .ttf inside a chat-bot plugin's font package) has
  Thin as its default instance; reportlab would embed the Thin outlines unless we instanced the
  variable font with fontTools on every start.
- fpdf2 subsets the CFF font with fontTools and embeds it as a CIDFontType0C (FontFile3) with a
  ToUnicode map: glyphs render in pdfium and text extracts (tests check both).
- pylopdf-fonts-zh-cn ships Noto Sans SC Regular 2.004 (notofonts/noto-cjk SubsetOTF/SC,
  SIL OFL 1.1, fsType 0 = installable embedding) and documents `sans_path()` to locate it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

import pylopdf_fonts_zh_cn
from fpdf import FPDF
from fpdf.enums import Align, TextMode, WrapMode, XPos, YPos
from fpdf.fonts import FontFace

from rating_service.credit_reports.schemas import (
    LIST_KEYS,
    CreditReport,
    ListKey,
    MeasureKind,
    Outcome,
    RecordState,
    SeverityTier,
    SubjectType,
)

FONT_FAMILY = "NotoSansSC"

# China has used UTC+8 without daylight saving since 1991; a fixed offset avoids needing tzdata.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")

_SUBJECT_TYPE_ZH: dict[SubjectType, str] = {"enterprise": "企业法人", "citizen": "自然人"}
_ID_LABEL_ZH: dict[SubjectType, str] = {
    "enterprise": "统一社会信用代码",
    "citizen": "公民身份号码（已脱敏）",
}
_NAME_LABEL_ZH: dict[SubjectType, str] = {"enterprise": "主体名称", "citizen": "姓名（已脱敏）"}
_OUTCOME_ZH: dict[Outcome, str] = {
    "key_warning": "列入重点警示名单",
    "red": "列入守信红名单",
    "dishonest": "认定失信",
    "history": "仅作历史记录保存",  # too late to list: period over when reported, or the notice had ended
    "exempted": "信用豁免，不纳入失信记录",  # 三(三)
    "not_exempted": "不符合豁免条件",
    "evidence_required": "待行政处罚或司法裁判依据",
    "out_of_scope": "不在通知适用期内",
}
_TIER_ZH: dict[SeverityTier, str] = {"minor": "轻微", "general": "一般", "serious": "严重"}
_STATE_ZH: dict[RecordState, str] = {
    "active": "公示中",
    "disputed": "异议处理中",
    "repaired": "已修复",
    "withdrawn": "已撤销",
    "expired": "公示期满",
    "history": "历史记录（未公示）",
}
_MEASURE_KIND_ZH: dict[MeasureKind, str] = {
    "punishment": "惩戒",
    "incentive": "激励",
    "notice": "警示",
    "financing": "融资支持",
    "service": "信用服务",
}
# Statuses are owned by the repair service; unknown ones are printed as they come.
_REPAIR_STATUS_ZH: dict[str, str] = {
    "received": "已受理",
    "accepted": "已受理",
    "initial_review": "初审中",
    "re_review": "复核中",
    "final_review": "终审中",
    "approved": "修复通过",
    "rejected": "不予修复",
}

# Layout (mm). A4 is 210 x 297.
_MARGIN = 15.0
_BODY_PT = 9.5
_LINE_H = 5.2
_INK = (33, 37, 41)
_MUTED = (108, 117, 125)
_ACCENT = (164, 30, 34)  # the red of official documents
_HEAD_FILL = (243, 233, 233)
_ZEBRA = (250, 248, 248)
_RULE = (200, 200, 200)
_PAD = (1.2, 1.5, 1.2, 1.5)  # table cell padding: top, right, bottom, left
_TOKENS = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:/_%-]*|\s+|.")
_NO_LINE_START = frozenset("，。、；：？！）》」』】〕〉”’％·…—～,.;:?!)]}%")
_NO_LINE_END = frozenset("（《「『【〔〈“‘([{")


@lru_cache(maxsize=1)
def cjk_font_path() -> Path:
    """The installed Noto Sans SC (OFL 1.1) file, located through the package's documented API."""
    path = Path(pylopdf_fonts_zh_cn.sans_path())
    if not path.is_file():
        raise FileNotFoundError(f"CJK font missing from pylopdf-fonts-zh-cn: {path}")
    return path


def render_credit_report_pdf(report: CreditReport) -> bytes:
    """Render the report as A4 PDF bytes; same report in, same bytes out."""
    pdf = _ReportPDF(report)
    pdf.write_report()
    return bytes(pdf.output())


def _d(value: date | None) -> str:
    return value.isoformat() if value else "—"


def _dt(value: datetime | None) -> str:
    return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if value else "—"


def _period(start: date | None, end: date | None) -> str:
    if start is None and end is None:
        return "—"
    return f"{_d(start)}\n至 {_d(end)}"


def wrap_zh(text: str, width: float, measure: Callable[[str], float]) -> str:
    """Break text into lines no wider than `width`, as measured by `measure`.

    fpdf2 breaks only at spaces (WORD) or anywhere (CHAR). Chinese needs: a break between any
    two Han characters, Latin/number runs kept whole (大市监罚〔2020〕12号, dates, ids), and the
    basic line-breaking rule (禁则) that closing punctuation never starts a line and opening
    brackets never end one. The result goes to fpdf2 with explicit newlines.
    """
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current: list[str] = []
        current_w = 0.0
        for token in _TOKENS.findall(paragraph):
            token_w = measure(token)
            if not current or current_w + token_w <= width:
                current.append(token)
                current_w += token_w
                continue
            if token.isspace():
                lines.append("".join(current).rstrip())
                current, current_w = [], 0.0
                continue
            carry = [token]
            if token[0] in _NO_LINE_START and len(current) > 1:
                carry.insert(0, current.pop())
            while len(current) > 1 and current[-1][-1] in _NO_LINE_END:
                carry.insert(0, current.pop())
            lines.append("".join(current).rstrip())
            current = carry
            current_w = measure("".join(current))
            while current_w > width and len("".join(current)) > 1:
                # a single run longer than a whole line (a long id): split it by character
                run, head = "".join(current), ""
                for char in run:
                    if head and measure(head + char) > width:
                        break
                    head += char
                lines.append(head)
                current = [run[len(head) :]]
                current_w = measure(current[0])
        lines.append("".join(current).rstrip())
    return "\n".join(lines)


class _ReportPDF(FPDF):
    def __init__(self, report: CreditReport) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.report = report
        self.set_margins(_MARGIN, 22.0, _MARGIN)
        self.set_auto_page_break(auto=True, margin=18.0)
        self.add_font(FONT_FAMILY, style="", fname=str(cjk_font_path()))
        self.set_font(FONT_FAMILY, size=_BODY_PT)
        # Deterministic output: the document's dates are the report's, not the clock's.
        self.set_creation_date(report.generated_at)
        self.set_title("信用报告")
        self.set_subject(f"{report.subject.name} 信用报告")
        self.set_author(f"{report.issuer_zh}（{report.site_zh}）")
        self.set_creator("jointcredit rating service")
        self.set_lang("zh-CN")

    # -- page furniture ---------------------------------------------------------------
    def header(self) -> None:
        self.set_font(FONT_FAMILY, size=8)
        self.set_text_color(*_MUTED)
        self.set_xy(_MARGIN, 9)
        self.cell(0, 5, f"{self.report.issuer_zh} · {self.report.site_zh}", align=Align.L)
        self.set_xy(_MARGIN, 9)
        self.cell(0, 5, f"报告验证码 {self.report.verification_id}", align=Align.R)
        self.set_draw_color(*_ACCENT)
        self.set_line_width(0.5)
        self.line(_MARGIN, 15, self.w - _MARGIN, 15)
        self.set_text_color(*_INK)
        self.set_font(FONT_FAMILY, size=_BODY_PT)
        self.set_y(20)

    def footer(self) -> None:
        self.set_y(-13)
        self.set_font(FONT_FAMILY, size=8)
        self.set_text_color(*_MUTED)
        self.cell(0, 5, f"第 {self.page_no()} 页 / 共 {{nb}} 页", align=Align.C)
        self.set_text_color(*_INK)

    # -- building blocks --------------------------------------------------------------
    def _bold_text(self, on: bool) -> None:
        # Only the Regular weight ships in the wheel: headings get a thin stroke instead of a
        # bold face (fpdf2 has no synthetic bold for embedded fonts).
        if on:
            self.text_mode = TextMode.FILL_STROKE
            self.set_line_width(0.18)
            self.set_draw_color(*self._current_text_rgb)
        else:
            self.text_mode = TextMode.FILL

    _current_text_rgb: tuple[int, int, int] = _INK

    def _color(self, rgb: tuple[int, int, int]) -> None:
        self._current_text_rgb = rgb
        self.set_text_color(*rgb)

    def _section(self, title: str) -> None:
        if self.will_page_break(20):
            self.add_page()
        self.ln(3)
        y = self.get_y()
        self.set_fill_color(*_ACCENT)
        self.rect(_MARGIN, y + 1, 1.4, 5, style="F")
        self.set_x(_MARGIN + 3)
        self.set_font(FONT_FAMILY, size=12)
        self._color(_INK)
        self._bold_text(True)
        self.cell(0, 7, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self._bold_text(False)
        self.set_font(FONT_FAMILY, size=_BODY_PT)
        self.ln(1)

    def _paragraph(self, text: str, rgb: tuple[int, int, int]) -> None:
        self._color(rgb)
        self.multi_cell(
            0,
            _LINE_H,
            self._wrap(text, self.epw - 2 * self.c_margin),
            wrapmode=WrapMode.CHAR,
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        self._color(_INK)

    def _note(self, text: str) -> None:
        self._paragraph(text, _MUTED)

    def _wrap(self, text: str, width: float) -> str:
        # 0.01 mm slack: fpdf2 re-measures the lines and must not disagree by a rounding error.
        return wrap_zh(text, width - 0.01, self.get_string_width)

    def _table(self, headings: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[float]) -> None:
        # fpdf2 tables start from the current colours: make them neutral first.
        self._color(_INK)
        self.set_fill_color(255, 255, 255)
        self.set_draw_color(*_RULE)
        self.set_line_width(0.2)
        scale = self.epw / sum(widths)
        pad_h = _PAD[1] + _PAD[3]
        inner = [w * scale - pad_h for w in widths]
        # Lines are broken by wrap_zh; CHAR mode only guarantees fpdf2 never falls back to
        # breaking at spaces (the notice title has one).
        with self.table(
            col_widths=tuple(widths),
            width=self.epw,
            text_align=Align.L,
            v_align="MIDDLE",
            wrapmode=WrapMode.CHAR,
            line_height=_LINE_H,
            padding=_PAD,
            headings_style=FontFace(emphasis="", fill_color=_HEAD_FILL, color=_ACCENT),
            borders_layout="HORIZONTAL_LINES",
            cell_fill_mode="ROWS",
            cell_fill_color=_ZEBRA,
            repeat_headings=1,
        ) as table:
            head = table.row()
            for text, w in zip(headings, inner, strict=True):
                head.cell(self._wrap(text, w))
            for values in rows:
                row = table.row()
                for text, w in zip(values, inner, strict=True):
                    row.cell(self._wrap(text, w))
        self.ln(2)

    # -- the report -------------------------------------------------------------------
    def write_report(self) -> None:
        self.alias_nb_pages()
        self.add_page()
        self._title_block()
        self._subject_section()
        self._lists_section()
        self._records_section()
        self._measures_section()
        self._repairs_section()
        self._verification_section()

    def _title_block(self) -> None:
        r = self.report
        self.ln(2)
        self.set_font(FONT_FAMILY, size=26)
        self._color(_INK)
        self._bold_text(True)
        self.cell(0, 13, "信用报告", align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self._bold_text(False)
        self.set_font(FONT_FAMILY, size=10.5)
        self._color(_MUTED)
        self.cell(
            0,
            6,
            f"{r.issuer_zh}（{r.site_zh}）出具 · 免费信用报告",
            align=Align.C,
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        self.cell(
            0,
            6,
            f"依据 {r.catalog_reference} · 生成时间 {_dt(r.generated_at)}（北京时间）",
            align=Align.C,
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        self._color(_INK)
        self.set_font(FONT_FAMILY, size=_BODY_PT)
        self.ln(2)

    def _subject_section(self) -> None:
        s = self.report.subject
        self._section("一、主体信息")
        self._table(
            ("项目", "内容"),
            (
                ("主体类型", _SUBJECT_TYPE_ZH[s.type]),
                (_NAME_LABEL_ZH[s.type], s.name),
                (_ID_LABEL_ZH[s.type], s.display_id),
            ),
            (45, 135),
        )

    def _lists_section(self) -> None:
        self._section("二、名单状态")
        on: dict[ListKey, tuple[date, date | None]] = {m.key: (m.since, m.until) for m in self.report.lists}
        rows = []
        for key in LIST_KEYS:  # fixed order: key warning, red, dishonest
            name = self.report.list_names_zh[key]
            if key in on:
                since, until = on[key]
                rows.append((name, "已列入", _d(since), _d(until)))
            else:
                rows.append((name, "未列入", "—", "—"))
        self._table(("名单", "当前状态", "列入日期", "公示截止日期"), rows, (55, 35, 45, 45))

    def _records_section(self) -> None:
        self._section("三、信用记录")
        if not self.report.records:
            self._note("截至报告生成时，未归集到该主体的信用记录。")
            return
        rows = []
        for rec in self.report.records:
            outcome = _OUTCOME_ZH[rec.outcome]
            if rec.list and rec.outcome == "history":
                outcome = f"{outcome}\n未列入{self.report.list_names_zh[rec.list]}"
            elif rec.list:
                listed = f"列入{self.report.list_names_zh[rec.list]}"
                outcome = listed if rec.outcome == rec.list else f"{outcome}\n{listed}"
            evidence = (
                f"{rec.evidence.document_no}\n{rec.evidence.authority}"
                + (f"\n{_d(rec.evidence.decided_on)}" if rec.evidence.decided_on else "")
                if rec.evidence
                else "无"
            )
            rows.append(
                (
                    f"{rec.code}\n{rec.clause}",
                    rec.behaviour_zh + (f"\n行为日期：{_d(rec.occurred_on)}" if rec.occurred_on else ""),
                    outcome,
                    _TIER_ZH[rec.tier] if rec.tier else "—",
                    _STATE_ZH[rec.state],
                    _period(rec.publicity_start, rec.publicity_end),
                    evidence,
                )
            )
        self._table(
            ("条款", "行为", "认定结果", "等级", "状态", "公示期", "依据文书 / 决定机关"),
            rows,
            (14, 39, 31, 10, 20, 25, 41),
        )

    def _measures_section(self) -> None:
        self._section("四、在执行的惩戒/激励措施")
        if not self.report.measures:
            self._note("截至报告生成时，无在执行的惩戒或激励措施。")
            return
        rows = [
            (_MEASURE_KIND_ZH[m.kind], m.code, m.text_zh, m.agency_name_zh, _d(m.since)) for m in self.report.measures
        ]
        self._table(("类型", "代码", "措施内容", "实施单位", "执行起始"), rows, (12, 12, 76, 54, 26))

    def _repairs_section(self) -> None:
        self._section("五、信用修复")
        if not self.report.repairs:
            self._note(self.report.no_repair_zh)
            return
        rows = [
            (rep.id, rep.record_code or "—", _REPAIR_STATUS_ZH.get(rep.status, rep.status), _dt(rep.decided_at))
            for rep in self.report.repairs
        ]
        self._table(("申请编号", "涉及记录", "办理状态", "决定时间（北京时间）"), rows, (70, 30, 35, 45))

    def _verification_section(self) -> None:
        r = self.report
        self._section("六、报告验证")
        self._table(
            ("项目", "内容"),
            (
                ("报告验证码", r.verification_id),
                ("生成时间", f"{_dt(r.generated_at)}（北京时间）"),
                ("出具机构", f"{r.issuer_zh}（{r.site_zh}）"),
                ("收费", "免费"),
            ),
            (45, 135),
        )
        self._paragraph(r.free_statement_zh, _ACCENT)
        self.ln(1)
        self.set_font(FONT_FAMILY, size=8.5)
        self._note(r.disclaimer_zh)
        self.set_font(FONT_FAMILY, size=_BODY_PT)
