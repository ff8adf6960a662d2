"""Address normaliser (one test per rule) and matcher (on a small purpose-built base)."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from gridgis.address import (
    AddressError,
    AddressMatch,
    AddressMatcher,
    NormalizedAddress,
    normalize,
)
from gridgis.address.text import to_simplified
from gridgis.errors import InvalidValueError

# --- normaliser ----------------------------------------------------------------------------


def parts(text: str) -> dict[str, str]:
    """The fields normalize() found, without the empty ones."""
    n = normalize(text)
    return {k: v for k in NormalizedAddress.__slots__ if (v := getattr(n, k)) is not None}


def test_full_width_digits_and_letters_become_half_width() -> None:
    n = normalize("沙河街３７号Ａ座２单元")
    assert (n.door_number, n.building, n.unit) == ("37", "A栋", "2单元")


def test_traditional_characters_become_simplified() -> None:
    n = normalize("長江西路59號錦繡花園3棟2單元")
    assert (n.road, n.compound, n.building, n.unit) == ("长江西路", "锦绣花园", "3栋", "2单元")


def test_simplified_text_comes_back_as_is_and_phrases_convert_as_phrases() -> None:
    text = "长江西路59号锦绣花园"
    assert to_simplified(text) is text  # nothing changed: the same object, no copy
    assert to_simplified("瞭") == "瞭"
    assert to_simplified("一目瞭然") == "一目了然"  # 瞭 changes inside the phrase only
    assert to_simplified("沈默") == "沉默" and to_simplified("沈阳") == "沈阳"


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("沙河街五十九号", "door_number", "59"),
        ("锦绣花园三栋", "building", "3栋"),
        ("马鞍村十二组", "group", "12组"),
        ("锦绣花园3栋2单元一〇二室", "room", "102"),
        ("锦绣花园3栋2单元一零二", "room", "102"),
        ("锦绣花园3栋2单元一百零二室", "room", "102"),
        ("长江西路二段59号", "road", "长江西路2段"),
        ("锦绣花园第三栋", "building", "3栋"),
    ],
)
def test_chinese_numerals_become_digits(text: str, field: str, value: str) -> None:
    assert parts(text)[field] == value


@pytest.mark.parametrize("name", ["三星花园", "德阳市第二人民医院", "马道三四巷"])
def test_a_numeral_inside_a_name_stays(name: str) -> None:
    assert name.removeprefix("德阳市") in normalize(name + "1栋").text


@pytest.mark.parametrize("building", ["3栋", "3#", "3#楼", "3号楼", "3幢", "3座", "三号楼"])
def test_building_synonyms_become_dong(building: str) -> None:
    assert parts(f"锦绣花园{building}2单元") == {
        "text": "锦绣花园3栋2单元",
        "compound": "锦绣花园",
        "building": "3栋",
        "unit": "2单元",
    }


def test_hao_is_optional_after_a_door_number() -> None:
    assert parts("沙河街37") == {"text": "沙河街37", "road": "沙河街", "door_number": "37"}
    with_compound = normalize("沙河街37祥和尚城1栋")
    assert (with_compound.door_number, with_compound.compound) == ("37", "祥和尚城")


def test_a_door_number_glued_to_its_unit_is_read_as_both() -> None:
    # Old-town houses have a door and units, no building: 梧桐巷55号2单元 without 号.
    glued = normalize("梧桐二三四巷552单元")
    assert (glued.road, glued.door_number, glued.unit) == ("梧桐二三四巷", "55", "2单元")
    assert normalize("梧桐二三四巷55号2单元").key == glued.key
    assert normalize("长江路2单元").door_number is None  # one digit: a unit, no door


@pytest.mark.parametrize(
    ("text", "unit", "room"),
    [
        ("锦绣花园3栋2单元", "2单元", None),
        ("锦绣花园3栋二单元", "2单元", None),
        ("锦绣花园3栋2-501", "2单元", "501"),
        ("锦绣花园3栋2-", "2单元", None),
        ("锦绣花园3-2-501", "2单元", "501"),
        ("3-2-501", "2单元", "501"),
    ],
)
def test_unit_forms_and_the_building_unit_room_shorthand(
    text: str, unit: str, room: str | None
) -> None:
    n = normalize(text)
    assert (n.building, n.unit, n.room) == ("3栋", unit, room)


def test_room_is_kept_but_not_part_of_the_key() -> None:
    n = normalize("锦绣花园3栋2单元501室")
    assert n.room == "501"
    assert normalize("锦绣花园3栋2单元501").room == "501"
    assert n.key == "锦绣花园3栋2单元"


def test_floor_is_read_off_and_dropped_from_the_key() -> None:
    n = normalize("锦绣花园3栋5楼501")
    assert (n.building, n.floor, n.room, n.key) == ("3栋", "5层", "501", "锦绣花园3栋")


def test_punctuation_and_whitespace_are_removed() -> None:
    n = normalize(" 沙河街 37号，祥和尚城（北区）、1栋。2单元 ")
    assert n.text == "沙河街37号祥和尚城北区1栋2单元"
    assert (n.road, n.door_number, n.compound) == ("沙河街", "37", "祥和尚城北区")


@pytest.mark.parametrize(
    "noise", ["附近", "旁边", "对面", "门口", "后面", "隔壁", "楼下", "周边", "一带"]
)
def test_noise_words_are_dropped(noise: str) -> None:
    assert normalize(f"沙河街37号祥和尚城{noise}").key == "沙河街37号祥和尚城"
    assert normalize(f"锦绣花园{noise}3栋2单元").key == "锦绣花园3栋2单元"


def test_number_lou_xia_keeps_the_building() -> None:
    assert normalize("锦绣花园3号楼下").building == "3栋"


def test_admin_prefixes_are_parsed_off() -> None:
    n = normalize("四川省德阳市旌阳区旌阳街道文昌社区长江西路59号锦绣花园3栋2单元501")
    assert n.admin == ("四川省", "德阳市", "旌阳区", "旌阳街道", "文昌社区")
    assert n.text == "长江西路59号锦绣花园3栋2单元501"
    assert n.key == "长江西路59号锦绣花园3栋2单元"


def test_short_admin_forms_without_their_suffix() -> None:
    n = normalize("四川德阳旌阳长江西路59号")
    assert (n.province, n.city, n.district, n.road) == ("四川", "德阳", "旌阳", "长江西路")


def test_an_admin_name_that_runs_into_a_road_stays_the_road() -> None:
    assert normalize("德阳大道5号").road == "德阳大道"
    assert normalize("北京路5号").road == "北京路"


def test_village_before_group_is_the_rural_form() -> None:
    assert parts("东湖街道马鞍村1组2号") == {
        "text": "1组2号",
        "subdistrict": "东湖街道",
        "community": "马鞍村",
        "door_number": "2",
        "group": "1组",
    }


def test_a_compound_named_like_a_village_stays_a_compound() -> None:
    n = normalize("阳光新村3栋")
    assert (n.community, n.compound, n.building) == (None, "阳光新村", "3栋")


def test_a_city_in_front_of_a_compound_name_is_parsed_as_the_city() -> None:
    n = normalize("德阳市外国语学校")
    assert (n.city, n.compound) == ("德阳市", "外国语学校")


def test_missing_parts_are_none() -> None:
    n = normalize("锦绣花园")
    assert n.compound == "锦绣花园"
    assert n.road is None and n.door_number is None and n.province is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   \t", "empty"),
        ("hello world!", "no Chinese characters or digits"),
        ("?!,.", "no Chinese characters or digits"),
        ("锦" * 201, "at most 200"),
        ("附近", "nothing left"),
    ],
)
def test_garbage_is_an_invalid_value(text: str, message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        normalize(text)


# --- matcher -------------------------------------------------------------------------------

PREFIX = {
    "文昌": ("四川省", "德阳市", "旌阳区", "旌阳街道", "文昌社区"),
    "玉泉": ("四川省", "德阳市", "旌阳区", "东湖街道", "玉泉社区"),
    "马鞍": ("四川省", "德阳市", "旌阳区", "东湖街道", "马鞍村"),
}
# community, road, door, compound, building, unit, lon, lat
Row = tuple[str, str, str, str | None, str | None, str | None, float, float]
ROWS: list[Row] = [
    ("文昌", "长江西路", "59", "锦绣花园", "3栋", "1单元", 104.3900, 31.1300),
    ("文昌", "长江西路", "59", "锦绣花园", "3栋", "2单元", 104.3902, 31.1300),
    ("文昌", "长江西路", "59", "锦绣花园", "4栋", "1单元", 104.3900, 31.1296),
    ("文昌", "长江西路", "63", "翠苑一品", "1栋", "1单元", 104.3920, 31.1300),
    ("文昌", "长江西路", "60", "阳光家园", "1栋", "1单元", 104.3910, 31.1310),
    ("文昌", "长江西路", "61", "德阳市外国语学校", None, None, 104.3930, 31.1290),
    ("玉泉", "沙河街", "37", "祥和尚城", "1栋", "1单元", 104.3800, 31.1200),
    ("玉泉", "沙河街", "37", "祥和尚城", "1栋", "2单元", 104.3802, 31.1200),
    ("玉泉", "沙河街", "41", "阳光家园", "1栋", "1单元", 104.3810, 31.1210),
    ("马鞍", "1组", "1", None, None, None, 104.4100, 31.1270),
    ("马鞍", "1组", "2", None, None, None, 104.4110, 31.1272),
    ("马鞍", "1组", "3", None, None, None, 104.4120, 31.1274),
    ("马鞍", "2组", "1", None, None, None, 104.4200, 31.1280),
]


def full_text(row: Row) -> str:
    community, road, door, compound, building, unit = row[:6]
    admin = "".join(PREFIX[community])
    return f"{admin}{road}{door}号{compound or ''}{building or ''}{unit or ''}"


def base_frame() -> gpd.GeoDataFrame:
    """An address base frame shaped as ``store.read_base_layer("addresses")`` returns it."""
    records = []
    for i, row in enumerate(ROWS, start=1):
        province, city, district, subdistrict, community = PREFIX[row[0]]
        records.append(
            {
                "id": i,
                "address": full_text(row),
                "province": province,
                "city": city,
                "district": district,
                "subdistrict": subdistrict,
                "community": community,
                "road": row[1],
                "door_number": row[2],
                "compound": row[3],
                "building": row[4],
                "unit": row[5],
            }
        )
    points = shapely.points([r[6] for r in ROWS], [r[7] for r in ROWS])
    return gpd.GeoDataFrame(records, geometry=points, crs=4490)


@pytest.fixture(scope="module")
def matcher() -> AddressMatcher:
    return AddressMatcher.from_frame(base_frame())


def address(i: int) -> str:
    return full_text(ROWS[i])


def best(matcher: AddressMatcher, query: str) -> AddressMatch:
    result = matcher.match(query)
    assert result.match is not None, result.candidates
    return result


def test_exact_match(matcher: AddressMatcher) -> None:
    result = best(matcher, address(1))
    assert result.match is not None
    assert result.match.address == address(1)
    assert (result.match.lon, result.match.lat) == (104.3902, 31.1300)
    assert result.match.score == 1.0 and result.match.flags == []
    assert result.normalized == "长江西路59号锦绣花园3栋2单元"
    assert result.candidates[0] == result.match


@pytest.mark.parametrize(
    ("kind", "query", "expected"),
    [
        ("drop_prefix", "长江西路59号锦绣花园3栋2单元", 1),
        ("drop_some_prefix", "旌阳区旌阳街道文昌社区长江西路59号锦绣花园3栋2单元", 1),
        ("fullwidth", "长江西路５９号锦绣花园３栋２单元", 1),
        ("chinese_numerals", "长江西路五十九号锦绣花园三栋二单元", 1),
        ("building_synonym", "长江西路59号锦绣花园3号楼2单元", 1),
        ("building_hash", "锦绣花园3#2单元", 1),
        ("drop_hao", "长江西路59锦绣花园3栋2单元", 1),
        ("spaces_punct", "长江西路 59号，（锦绣花园） 3栋、2单元。", 1),
        ("shorthand", "锦绣花园3-2-501", 1),
        ("traditional", "長江西路59號錦繡花園3棟2單元", 1),
        ("noise", "长江西路59号锦绣花园3栋2单元附近", 1),
        ("compound_only", "锦绣花园3栋2单元", 1),
        ("road_only", "长江西路59号3栋2单元", 1),
        ("road_and_door_glued_to_building", "长江西路594栋1单元", 2),
        ("rural", "马鞍村1组2号", 10),
        ("rural_numerals", "马鞍村一组二号", 10),
        ("rural_without_hao", "东湖街道马鞍村1组2", 10),
    ],
)
def test_variants_find_the_address(
    matcher: AddressMatcher, kind: str, query: str, expected: int
) -> None:
    result = best(matcher, query)
    assert result.match is not None
    assert result.match.address == address(expected), kind
    assert result.match.score == 1.0 and result.match.flags == [], kind


def test_a_city_prefix_that_is_part_of_the_compound_name(matcher: AddressMatcher) -> None:
    for query in ("德阳市外国语学校", "外国语学校"):
        result = best(matcher, query)
        assert result.match is not None
        assert result.match.address == address(5)
        assert "compound_only" in result.match.flags


def test_building_without_unit_gives_the_building(matcher: AddressMatcher) -> None:
    result = best(matcher, "锦绣花园3栋")
    assert result.match is not None
    assert result.match.address == address(0).removesuffix("1单元")
    assert (result.match.lon, result.match.lat) in {(104.3900, 31.1300), (104.3902, 31.1300)}
    assert result.match.score == 1.0


def test_compound_only_is_good_enough_but_flagged(matcher: AddressMatcher) -> None:
    result = best(matcher, "祥和尚城")
    assert result.match is not None
    assert result.match.address.endswith("沙河街37号祥和尚城")
    assert result.match.flags == ["compound_only"]
    assert matcher.good_enough <= result.match.score < 1.0


def test_unknown_door_takes_the_nearest_door_on_the_road(matcher: AddressMatcher) -> None:
    result = best(matcher, "长江西路57号3栋1单元")
    assert result.match is not None
    assert result.match.address == address(0)  # door 59, then its building and unit
    assert "nearest_door" in result.match.flags
    assert matcher.good_enough <= result.match.score < 1.0


def test_nearest_door_prefers_the_same_side_of_the_road(matcher: AddressMatcher) -> None:
    # 62 lies as near to 61 and 63 as to 60, but only 60 is on its (even) side.
    result = best(matcher, "长江西路62号")
    assert result.match is not None
    assert "长江西路60号阳光家园" in result.match.address
    assert "nearest_door" in result.match.flags
    other_side = [c for c in result.candidates if "60号" not in c.address]
    assert other_side and all(c.score < result.match.score for c in other_side)


def test_unknown_house_number_in_a_village_group(matcher: AddressMatcher) -> None:
    result = best(matcher, "马鞍村1组9号")
    assert result.match is not None
    assert result.match.address == address(11)  # 3, the nearest known number of 1组
    assert "nearest_door" in result.match.flags


def test_a_village_group_without_house_number(matcher: AddressMatcher) -> None:
    result = best(matcher, "马鞍村2组")
    assert result.match is not None
    assert result.match.address.endswith("马鞍村2组")
    assert result.match.flags == ["group_only"]


def test_community_prefix_picks_between_same_named_compounds(matcher: AddressMatcher) -> None:
    both = matcher.match("阳光家园1栋1单元")
    assert {c.address for c in both.candidates} == {address(4), address(8)}
    assert both.candidates[0].score == both.candidates[1].score
    for community, expected in (("文昌社区", 4), ("玉泉社区", 8)):
        result = best(matcher, f"{community}阳光家园1栋1单元")
        assert result.match is not None
        assert result.match.address == address(expected)
        assert result.match.score == 1.0
        assert result.candidates[1].flags == ["admin_mismatch"]
        assert result.candidates[1].score < matcher.good_enough


def test_a_contradicting_district_lowers_the_score(matcher: AddressMatcher) -> None:
    result = matcher.match("罗江区锦绣花园3栋1单元")
    assert result.match is None
    assert result.candidates[0].address == address(0)
    assert "admin_mismatch" in result.candidates[0].flags
    assert result.candidates[0].score < matcher.good_enough


def test_fuzzy_compound_name(matcher: AddressMatcher) -> None:
    for typo in ("锦秀花园", "锦花园", "绣锦花园"):  # changed, dropped, swapped
        result = best(matcher, f"{typo}3栋2单元")
        assert result.match is not None
        assert result.match.address == address(1), typo
        assert result.match.flags == ["fuzzy"]
        assert matcher.good_enough <= result.match.score < 1.0


def test_fuzzy_village_name(matcher: AddressMatcher) -> None:
    result = best(matcher, "马安村1组2号")
    assert result.match is not None
    assert result.match.address == address(10)
    assert result.match.flags == ["fuzzy"]


def test_compound_wins_over_a_door_that_does_not_exist(matcher: AddressMatcher) -> None:
    result = best(matcher, "沙河街39号祥和尚城1栋2单元")
    assert result.match is not None
    assert result.match.address == address(7)
    assert "door_mismatch" in result.match.flags


def test_nothing_good_enough_gives_candidates_only(matcher: AddressMatcher) -> None:
    result = matcher.match("长江西路", limit=3)
    assert result.match is None
    assert 1 <= len(result.candidates) <= 3
    assert result.candidates[0].flags == ["road_only"]
    assert result.candidates[0].score < matcher.good_enough


def test_no_candidates_at_all(matcher: AddressMatcher) -> None:
    result = matcher.match("完全不存在的地方")
    assert result.match is None and result.candidates == []


def test_garbage_query_raises(matcher: AddressMatcher) -> None:
    with pytest.raises(InvalidValueError):
        matcher.match("!!!")


def test_bulk_with_bad_rows(matcher: AddressMatcher) -> None:
    queries = [address(0), "", "锦绣花园3栋2单元", "@@@", "x" * 300, None]
    results = matcher.match_many(queries)  # type: ignore[arg-type]
    assert len(results) == len(queries)
    assert [type(r) for r in results] == [
        AddressMatch,
        AddressError,
        AddressMatch,
        AddressError,
        AddressError,
        AddressError,
    ]
    first, third = results[0], results[2]
    assert isinstance(first, AddressMatch) and first.match is not None
    assert isinstance(third, AddressMatch) and third.match is not None
    assert third.match.address == address(1)
    error = results[1]
    assert isinstance(error, AddressError)
    assert error.to_dict() == {"query": "", "error": "address is empty"}


def test_to_dict_shape(matcher: AddressMatcher) -> None:
    found = matcher.match("锦绣花园3栋2单元").to_dict()
    assert set(found) == {"query", "normalized", "match", "candidates"}
    assert set(found["match"]) == {"address", "lon", "lat", "score", "flags"}
    assert found["candidates"][0] == found["match"]
    assert matcher.match("长江西路").to_dict()["match"] is None


def test_limit_must_be_positive(matcher: AddressMatcher) -> None:
    with pytest.raises(InvalidValueError, match="limit"):
        matcher.match("锦绣花园", limit=0)


def test_rows_without_a_point_are_left_out() -> None:
    frame = base_frame()
    frame.loc[0, "geometry"] = None
    m = AddressMatcher.from_frame(frame)
    assert len(m) == len(ROWS) - 1
    result = m.match(address(0))
    assert result.match is not None and result.match.address != address(0)
