"""三(一) channel reasons are the catalog's wording: Dalian's texts unchanged, another city's from its own file."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import yaml

from jointcredit_common.catalog import Catalog, load_catalog
from jointcredit_common.catalog.models import BUNDLED_CATALOG
from repair_service.repairs.service import choose_channel


class LiveDishonestRecord:
    """The one query choose_channel asks: does the subject have a live dishonest record of this catalog?"""

    def __init__(self, answer: bool) -> None:
        self.answer = answer

    async def scalar(self, _statement: object) -> bool:
        return self.answer


def other_city(tmp_path: Path) -> Catalog:
    data = yaml.safe_load(resources.files("jointcredit_common.catalog").joinpath(BUNDLED_CATALOG).read_text("utf-8"))
    data["document_no"] = "海信办字〔2020〕7号"
    data["templates_zh"]["repair_channel"] = {
        "green": "海滨市失信企业修复绿色通道（{document_no}{clause}）",
        "subject_type_not_eligible": "{subject_name}（{subject_type}）不适用{clause}，走一般修复程序",
        "no_dishonest_record": "无{document_no}下的失信记录，走一般修复程序",
    }
    path = tmp_path / "haibin-2020-7.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_catalog(path)


@pytest.mark.parametrize(
    "subject_type, live, expected",
    [
        ("enterprise", True, ("green", "已成为失信主体的疫情防控领域企业（大信办字〔2020〕4号 三(一)），适用信用修复绿色通道")),
        ("enterprise", False, ("standard", "该企业无大信办字〔2020〕4号下有效的失信记录，不适用三(一)绿色通道，走一般修复程序")),
        ("citizen", True, ("standard", "三(一)绿色通道仅适用于企业；citizen 走一般修复程序")),
    ],
)
async def test_dalian_reasons_are_unchanged(subject_type: str, live: bool, expected: tuple[str, str]) -> None:
    session = LiveDishonestRecord(live)
    assert await choose_channel(session, subject_type=subject_type, key="k", catalog=load_catalog()) == expected


@pytest.mark.parametrize(
    "subject_type, live, expected",
    [
        ("enterprise", True, ("green", "海滨市失信企业修复绿色通道（海信办字〔2020〕7号三(一)）")),
        ("enterprise", False, ("standard", "无海信办字〔2020〕7号下的失信记录，走一般修复程序")),
        ("citizen", False, ("standard", "公民（citizen）不适用三(一)，走一般修复程序")),
    ],
)
async def test_another_citys_reasons_come_from_its_catalog(tmp_path: Path, subject_type: str, live: bool,
                                                           expected: tuple[str, str]) -> None:
    session = LiveDishonestRecord(live)
    assert await choose_channel(session, subject_type=subject_type, key="k", catalog=other_city(tmp_path)) == expected
