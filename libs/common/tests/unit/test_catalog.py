"""The bundled catalog is the notice 大信办字〔2020〕4号, item for item, and broken catalogs are refused.

The numbered items are parsed out of the notice text itself, so a missing, duplicated or altered item in
the catalog fails here.
"""

from __future__ import annotations

import copy
import json
import os
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from jointcredit_common.catalog import Catalog, CatalogError, UnknownCodeError, load_catalog
from jointcredit_common.catalog.models import BUNDLED_CATALOG

NOTICE_NAME = "dalian-credit-notice-2020-4.txt"


def find_notice() -> Path:
    """The notice text: $JOINTCREDIT_NOTICE, else seed/, shared/seed/ or docs/policy/ in an ancestor folder."""
    if os.environ.get("JOINTCREDIT_NOTICE"):
        return Path(os.environ["JOINTCREDIT_NOTICE"])
    for parent in Path(__file__).resolve().parents:
        for candidate in (parent / "seed", parent / "shared" / "seed", parent / "docs" / "policy"):
            if (candidate / NOTICE_NAME).is_file():
                return candidate / NOTICE_NAME
    raise FileNotFoundError(f"{NOTICE_NAME} not found; set JOINTCREDIT_NOTICE to its path")


# -- a small parser of the notice's structure --------------------------------------------------------

SECTION = re.compile(r"^([一二三四五六七八九十])、")  # 一、 二、 三、
SUBSECTION = re.compile(r"^[（(]([一二三四五六七八九十])[）)]")  # （一） or (三)
ITEM = re.compile(r"^(\d+)\.\s*")  # 1. 2. …
SENTENCE_END = ("；", "。", "：", ";")


def logical_lines(text: str) -> list[str]:
    """Join the notice's hard-wrapped lines: a line continues until it ends a sentence or clause,
    except headings (一、… / （一）… without a full stop), which stand alone."""
    lines: list[str] = []
    buffer = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if buffer and (SECTION.match(line) or SUBSECTION.match(line) or ITEM.match(line)):
            lines.append(buffer)
            buffer = ""
        buffer += line
        is_heading = SECTION.match(buffer) or (SUBSECTION.match(buffer) and "。" not in buffer)
        if is_heading or buffer.endswith(SENTENCE_END):
            lines.append(buffer)
            buffer = ""
    if buffer:
        lines.append(buffer)
    return lines


def numbered_items(text: str) -> dict[str, str]:
    """Clause reference → text of every numbered item: 一.n, 二(一)n … 二(五)n, 三(一) … 三(三)."""
    items: dict[str, str] = {}
    section = subsection = None

    def add(ref: str, body: str) -> None:
        assert ref not in items, f"the notice numbers {ref} twice"
        items[ref] = body

    for line in logical_lines(text):
        if m := SECTION.match(line):
            section, subsection = m[1], None
        elif section is None:
            continue
        elif m := SUBSECTION.match(line):
            subsection = m[1]
            if section == "三":  # 三's sub-paragraphs are the items themselves
                add(f"三({subsection})", line[m.end() :])
        elif m := ITEM.match(line):
            ref = f"{section}.{m[1]}" if subsection is None else f"{section}({subsection}){m[1]}"
            add(ref, line[m.end() :])
    return items


NOTICE_TEXT = find_notice().read_text(encoding="utf-8")
NOTICE_ITEMS = numbered_items(NOTICE_TEXT)

# The notice's outline: how many numbered items each part has.
OUTLINE = {"一": 6, "二(一)": 6, "二(二)": 7, "二(三)": 10, "二(四)": 10, "二(五)": 6}
# The codes each part gets (DESIGN §2).
CODE_PREFIX = {"一": "W", "二(一)": "G", "二(二)": "I", "二(三)": "E", "二(四)": "C", "二(五)": "P"}
UNNUMBERED_CODES = {"三(一)": "R", "三(二)": "F"}
# 三(三) is one sentence naming five behaviours; the catalog splits it into X1–X5.
EXEMPTION_ITEMS = ["延迟交货", "延期还贷", "合同逾期", "未及时纳税", "未及时缴纳社会保险费"]


def expected_refs() -> set[str]:
    refs = {f"{part}.{n}" if part == "一" else f"{part}{n}" for part, count in OUTLINE.items() for n in range(1, count + 1)}
    return refs | {"三(一)", "三(二)", "三(三)"}


def expected_code(ref: str) -> str:
    if ref in UNNUMBERED_CODES:
        return UNNUMBERED_CODES[ref]
    m = re.fullmatch(r"(一)\.(\d+)|(二\([一二三四五]\))(\d+)", ref)
    assert m, ref
    part, number = m[1] or m[3], m[2] or m[4]
    return CODE_PREFIX[part] + number


def catalog_entries(catalog: Catalog) -> list[Any]:
    return [*catalog.behaviors, *catalog.measures]


def bundled_data() -> dict[str, Any]:
    path = Path(__file__).resolve().parents[2] / "src" / "jointcredit_common" / "catalog" / BUNDLED_CATALOG
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# -- the parser itself must see the whole notice (otherwise the checks below prove nothing) ---------


def test_parser_finds_every_numbered_item_of_the_notice() -> None:
    assert set(NOTICE_ITEMS) == expected_refs()
    assert len(NOTICE_ITEMS) == 48


def test_parser_joins_items_wrapped_over_several_lines() -> None:
    # 二(二)4 is printed over two lines with a blank line between them; 三(三) over four.
    assert "给予重点支持和优先便利" in NOTICE_ITEMS["二(二)4"]
    assert NOTICE_ITEMS["二(二)4"].endswith("给予教育政策照顾；")
    assert NOTICE_ITEMS["三(三)"].endswith("暂不纳入失信记录、不实施失信惩戒。")


# -- the bundled catalog is the notice ---------------------------------------------------------------


def test_bundled_catalog_validates_and_names_the_notice(catalog: Catalog) -> None:
    assert catalog.document_no == "大信办字〔2020〕4号"
    assert catalog.document_no in NOTICE_TEXT
    assert catalog.title_zh in NOTICE_TEXT
    assert catalog.issuer_zh in NOTICE_TEXT
    assert catalog.issued_on == date(2020, 2, 21)
    assert catalog.reference == f"{catalog.id}@{catalog.version}"


def test_validity_starts_on_issue_and_ends_with_the_emergency_response(catalog: Catalog) -> None:
    # "本文件自印发之日起实施,新冠肺炎疫情应急响应结束后终止。"
    assert catalog.validity.starts_on == date(2020, 2, 21)
    assert catalog.validity.ends_on is None
    assert catalog.validity.text_zh in "".join(logical_lines(NOTICE_TEXT))


@pytest.mark.parametrize("ref", sorted(expected_refs()))
def test_every_numbered_item_of_the_notice_appears_exactly_once_verbatim(catalog: Catalog, ref: str) -> None:
    # Matched by clause and verbatim text together: 二(三)10 and 二(四)10 are worded identically.
    text = NOTICE_ITEMS[ref]
    matches = [e for e in catalog_entries(catalog) if (e.clause, e.text_zh) == (ref, text)]
    if ref == "三(三)":
        assert [e.code for e in matches] == [f"X{n}" for n in range(1, 6)]
        assert [e.item_zh for e in matches] == EXEMPTION_ITEMS
    else:
        assert [e.code for e in matches] == [expected_code(ref)], f"{ref} should be exactly one entry: {text}"


def test_catalog_has_no_clause_the_notice_does_not_have(catalog: Catalog) -> None:
    for entry in catalog_entries(catalog):
        if getattr(entry, "derived", False):
            continue
        assert NOTICE_ITEMS.get(entry.clause) == entry.text_zh, f"{entry.code} ({entry.clause}) is not in the notice"


def test_warning_measures_are_derived_from_the_last_paragraph_of_section_one(catalog: Catalog) -> None:
    # "对于上述行为尚未达到行政处罚或司法判决的，有关单位可以依法将其列入重点警示名单，对其发出警示，
    #  并及时推送至大连市公共信用信息平台，纳入信用记录。"
    paragraph = next(line for line in logical_lines(NOTICE_TEXT) if line.startswith("对于上述行为尚未达到行政处罚"))
    derived = [m for m in catalog.measures if m.derived]
    assert sorted(m.code for m in derived) == ["N1", "N2"]
    for measure in derived:
        assert measure.clause == "一"
        assert measure.text_zh in paragraph
    assert catalog.list_policy("key_warning").name_zh in paragraph


def test_every_behaviour_and_measure_has_an_english_gloss_and_subject_types(catalog: Catalog) -> None:
    for entry in catalog_entries(catalog):
        assert entry.gloss_en.strip(), entry.code
        assert entry.subject_types, entry.code


def test_dishonest_behaviours_carry_a_tier_with_periods_of_national_practice(catalog: Catalog) -> None:
    # minor at most 3 months; general 3 months–1 year; serious 1–3 years.
    assert (catalog.tier("minor").min_months, catalog.tier("minor").max_months) == (0, 3)
    assert (catalog.tier("general").min_months, catalog.tier("general").max_months) == (3, 12)
    assert (catalog.tier("serious").min_months, catalog.tier("serious").max_months) == (12, 36)
    for behavior in catalog.behaviors:
        assert (behavior.tier is not None) == (behavior.outcome == "dishonest"), behavior.code


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("E3", id="二(三)3-wildlife-trade"),
        pytest.param("E4", id="二(三)4-fake-protective-goods"),
        pytest.param("E5", id="二(三)5-epidemic-fraud"),
        pytest.param("E6", id="二(三)6-medical-waste"),
        pytest.param("C8", id="二(四)8-assaulting-medical-staff"),
    ],
)
def test_gravest_acts_are_serious_dishonesty(catalog: Catalog, code: str) -> None:
    assert catalog.behavior(code).tier == "serious"


def test_resumption_violations_become_dishonest_through_e9_once_penalised(catalog: Catalog) -> None:
    # 一 last paragraph ("尚未达到行政处罚或司法判决的") + 二(三)9 ("…达到行政处罚或司法判决的").
    for n in range(1, 7):
        behavior = catalog.behavior(f"W{n}")
        assert behavior.outcome == "key_warning"
        assert behavior.escalates_to == "E9"
        assert behavior.measures == ["N1", "N2"]


def test_lists_have_periods_exit_conditions_and_an_objection_limit(catalog: Catalog) -> None:
    assert catalog.list_policy("key_warning").period_months
    assert catalog.list_policy("red").period_months
    assert catalog.list_policy("dishonest").period_months is None  # from the tier
    for policy in catalog.lists:
        assert policy.exit_conditions_zh.strip()
    assert catalog.due_process.objection_decision_working_days >= 1
    assert "异议" in catalog.due_process.objection_zh


def test_green_channel_repair_is_for_enterprises_within_one_working_day(catalog: Catalog) -> None:
    # 三(一): "对已成为失信主体的疫情防控领域企业从初审、复核和终审…原则上在1个工作日内完成"
    assert catalog.credit_repair.measure == "R"
    assert catalog.credit_repair.subject_types == ["enterprise"]
    assert catalog.credit_repair.stages == ["initial", "re_review", "final"]
    assert catalog.credit_repair.target_working_days == 1


# -- measures → agencies ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "measure, agency",
    [
        pytest.param("I3", "public_resource_trading_center", id="二(二)3-credit-bonus-at-public-resource-trading"),
        pytest.param("P1", "public_resource_trading_center", id="二(五)1-bidding-restriction"),
        pytest.param("I2", "finance_bureau", id="二(二)2-fiscal-fund-priority"),
        pytest.param("P1", "finance_bureau", id="二(五)1-fiscal-fund-restriction"),
        pytest.param("P1", "tax_bureau", id="二(五)1-tax-incentive-restriction"),
        pytest.param("P1", "securities_regulator", id="二(五)1-share-issuance-restriction"),
        pytest.param("F", "xinyidai_banks", id="三(二)-xinyidai-priority-credit"),
        pytest.param("P2", "xinyidai_banks", id="二(五)2-credit-restriction"),
        pytest.param("P2", "airlines", id="二(五)2-flight-restriction"),
        pytest.param("P2", "railway", id="二(五)2-high-speed-rail-restriction"),
        pytest.param("P5", "sasac", id="二(五)5-soe-office-bar"),
        pytest.param("N2", "public_credit_platform", id="一-record-pushed-to-public-credit-platform"),
        pytest.param("I6", "credit_china_dalian", id="二(二)6-publicity-on-credit-china-dalian"),
        pytest.param("P3", "credit_china_dalian", id="二(五)3-public-condemnation"),
        pytest.param("I1", "admin_service_center", id="二(二)1-green-channel-in-services"),
        pytest.param("I4", "education_bureau", id="二(二)4-education-priority"),
        pytest.param("I4", "hrss_bureau", id="二(二)4-employment-social-security-priority"),
        pytest.param("I5", "market_regulation", id="二(二)5-fewer-inspections"),
        pytest.param("P4", "honours_office", id="二(五)4-honours-revoked"),
        pytest.param("R", "credit_repair_group", id="三(一)-green-channel-repair"),
    ],
)
def test_measure_is_routed_to_its_implementing_agency(catalog: Catalog, measure: str, agency: str) -> None:
    assert agency in [a.code for a in catalog.agencies_for(measure)]
    assert measure in catalog.agency(agency).measures


def test_agency_codes_are_safe_kafka_topic_suffixes(catalog: Catalog) -> None:
    for agency in catalog.agencies:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", agency.code), agency.code
        assert agency.name_zh and agency.name_en


def test_every_listing_is_shared_with_the_public_credit_platform(catalog: Catalog) -> None:
    assert catalog.credit_record_agency == "public_credit_platform"


def test_catalog_serialises_for_the_api_and_reloads_unchanged(catalog: Catalog) -> None:
    dumped = catalog.model_dump(mode="json")
    json.dumps(dumped, ensure_ascii=False)
    assert Catalog.model_validate(dumped) == catalog
    assert {a["code"]: a["measures"] for a in dumped["agencies"]}["finance_bureau"] == ["I2", "P1"]


def test_lookups_refuse_unknown_codes(catalog: Catalog) -> None:
    assert catalog.behavior("E7").clause == "二(三)7"
    assert catalog.measure("P5").clause == "二(五)5"
    with pytest.raises(UnknownCodeError, match="E11"):
        catalog.behavior("E11")
    with pytest.raises(UnknownCodeError, match="P7"):
        catalog.measure("P7")


def test_settings_may_override_objection_limit_and_emergency_end(catalog: Catalog) -> None:
    changed = catalog.with_overrides(objection_decision_working_days=3, emergency_ends_on=date(2020, 5, 1))
    assert changed.due_process.objection_decision_working_days == 3
    assert changed.validity.ends_on == date(2020, 5, 1)
    assert catalog.due_process.objection_decision_working_days == 5  # the original is untouched


# -- broken catalogs are refused, naming the offending code ------------------------------------------


def _entry(data: dict[str, Any], section: str, code: str) -> dict[str, Any]:
    return next(e for e in data[section] if e["code"] == code)


def dangling_measure(data: dict[str, Any]) -> None:
    _entry(data, "behaviors", "E7")["measures"].append("P9")


def dangling_agency(data: dict[str, Any]) -> None:
    _entry(data, "measures", "P1")["agencies"].append({"agency": "stock_exchange_nowhere"})


def duplicate_behaviour(data: dict[str, Any]) -> None:
    data["behaviors"].append(copy.deepcopy(_entry(data, "behaviors", "E7")))


def duplicate_measure(data: dict[str, Any]) -> None:
    clone = copy.deepcopy(_entry(data, "measures", "I3"))
    clone["code"] = "I2"
    data["measures"].append(clone)


def measure_code_reused_for_behaviour(data: dict[str, Any]) -> None:
    clone = copy.deepcopy(_entry(data, "measures", "F"))
    clone["code"] = "C3"
    data["measures"].append(clone)


def duplicate_agency(data: dict[str, Any]) -> None:
    data["agencies"].append(copy.deepcopy(_entry(data, "agencies", "sasac")))


def escalation_to_nowhere(data: dict[str, Any]) -> None:
    _entry(data, "behaviors", "W3")["escalates_to"] = "E99"


def enterprise_measure_on_citizens(data: dict[str, Any]) -> None:
    _entry(data, "behaviors", "C1")["measures"].append("P1")


def dishonest_without_tier(data: dict[str, Any]) -> None:
    del _entry(data, "behaviors", "E3")["tier"]


def tier_min_above_max(data: dict[str, Any]) -> None:
    _entry(data, "tiers", "serious")["min_months"] = 48


def default_outside_tier(data: dict[str, Any]) -> None:
    _entry(data, "tiers", "minor")["default_months"] = 6


def unknown_template_placeholder(data: dict[str, Any]) -> None:
    data["templates_zh"]["key_warning"] += "{penalty_amount}"


def missing_report_disclaimer(data: dict[str, Any]) -> None:
    del data["templates_zh"]["credit_report"]["disclaimer"]


def missing_repair_wording(data: dict[str, Any]) -> None:
    del data["templates_zh"]["repair_channel"]


def unknown_channel_placeholder(data: dict[str, Any]) -> None:
    data["templates_zh"]["repair_channel"]["green"] += "（{city}）"


def placeholder_the_code_does_not_fill_there(data: dict[str, Any]) -> None:
    # {document_no} is a fact elsewhere, but rating writes the expiry reason without facts.
    data["templates_zh"]["records"]["expired"] += "（{document_no}）"


def positional_placeholder(data: dict[str, Any]) -> None:
    data["templates_zh"]["credit_report"]["free_statement"] += "{}"


def unclosed_placeholder(data: dict[str, Any]) -> None:
    data["templates_zh"]["repair_channel"]["no_dishonest_record"] = "该企业无{document_no下有效的失信记录"


def moot_objection_wording_incomplete(data: dict[str, Any]) -> None:
    del data["templates_zh"]["records"]["objection_moot"]["expired"]


def unknown_record_agency(data: dict[str, Any]) -> None:
    data["credit_record_agency"] = "city_archive"


def unknown_subject_type(data: dict[str, Any]) -> None:
    _entry(data, "behaviors", "G5")["subject_types"].append("association")


@pytest.mark.parametrize(
    "breakage, names",
    [
        pytest.param(dangling_measure, ["E7", "P9"], id="dangling-measure"),
        pytest.param(dangling_agency, ["P1", "stock_exchange_nowhere"], id="dangling-agency"),
        pytest.param(duplicate_behaviour, ["E7"], id="duplicate-behaviour-code"),
        pytest.param(duplicate_measure, ["I2"], id="duplicate-measure-code"),
        pytest.param(measure_code_reused_for_behaviour, ["C3"], id="measure-code-clashes-with-behaviour"),
        pytest.param(duplicate_agency, ["sasac"], id="duplicate-agency-code"),
        pytest.param(escalation_to_nowhere, ["W3", "E99"], id="escalation-target-missing"),
        pytest.param(enterprise_measure_on_citizens, ["C1", "P1"], id="subject-types-inconsistent"),
        pytest.param(dishonest_without_tier, ["E3"], id="dishonest-without-tier"),
        pytest.param(tier_min_above_max, ["serious"], id="tier-min-above-max"),
        pytest.param(default_outside_tier, ["minor"], id="tier-default-outside-range"),
        pytest.param(unknown_template_placeholder, ["key_warning", "penalty_amount"], id="template-placeholder"),
        pytest.param(missing_report_disclaimer, ["credit_report", "disclaimer"], id="template-missing"),
        pytest.param(missing_repair_wording, ["repair_channel"], id="template-group-missing"),
        pytest.param(unknown_channel_placeholder, ["green", "city"], id="service-template-placeholder"),
        pytest.param(placeholder_the_code_does_not_fill_there, ["expired", "document_no"], id="fact-not-filled-there"),
        pytest.param(positional_placeholder, ["free_statement"], id="positional-placeholder"),
        pytest.param(unclosed_placeholder, ["no_dishonest_record"], id="template-not-a-format-string"),
        pytest.param(moot_objection_wording_incomplete, ["objection_moot", "expired"], id="template-mapping-incomplete"),
        pytest.param(unknown_record_agency, ["city_archive"], id="record-agency-missing"),
        pytest.param(unknown_subject_type, ["association"], id="unknown-subject-type"),
    ],
)
def test_broken_catalog_is_rejected_naming_the_offending_code(tmp_path: Path, breakage, names: list[str]) -> None:
    data = bundled_data()
    breakage(data)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CatalogError) as excinfo:
        load_catalog(path)
    for name in names:
        assert name in str(excinfo.value)


def test_unbroken_copy_of_the_bundled_catalog_loads_from_a_path(tmp_path: Path) -> None:
    # The control for the test above: the same round trip without a breakage succeeds.
    path = tmp_path / "copy.yaml"
    path.write_text(yaml.safe_dump(bundled_data(), allow_unicode=True), encoding="utf-8")
    assert load_catalog(path) == load_catalog()


def test_malformed_yaml_is_a_catalog_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("behaviors: [unclosed", encoding="utf-8")
    with pytest.raises(CatalogError):
        load_catalog(path)


# -- the services' wording (templates_zh.records / credit_report / repair_channel) ---------------------


def test_each_wording_names_placeholders_only_for_its_own_templates() -> None:
    # A typo in a model's placeholders table would silently make a template fixed text.
    templates = load_catalog().templates_zh
    for wording in (templates.records, templates.credit_report, templates.repair_channel):
        assert set(wording.placeholders) <= set(type(wording).model_fields), type(wording).__name__


def test_wording_is_filled_with_the_facts_the_code_passes() -> None:
    catalog = load_catalog()
    channel = catalog.templates_zh.repair_channel
    facts = {"document_no": catalog.document_no, "clause": "三(一)"}
    assert channel.fill("green", **facts) == "已成为失信主体的疫情防控领域企业（大信办字〔2020〕4号 三(一)），适用信用修复绿色通道"
    assert catalog.templates_zh.records.fill("objection_upheld", reason="处罚决定已撤销") == "异议成立：处罚决定已撤销"
    # Code that leaves out a fact a template may use fails on the Dalian text too, not only on another city's.
    with pytest.raises(TypeError, match="clause"):
        channel.fill("green", document_no=catalog.document_no)


def test_another_citys_wording_is_a_catalog_file(tmp_path: Path) -> None:
    data = bundled_data()
    data["templates_zh"]["credit_report"] |= {"issuer": "沈阳市公共信用信息平台", "site": "信用沈阳",
                                              "free_statement": "本报告由{issuer}依据{document_no}免费出具。"}
    path = tmp_path / "other-city.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    wording = load_catalog(path).templates_zh.credit_report
    assert wording.fill("free_statement", title="", document_no="沈信办字〔2020〕1号", issuer=wording.issuer, site="",
                        days=1) == "本报告由沈阳市公共信用信息平台依据沈信办字〔2020〕1号免费出具。"
