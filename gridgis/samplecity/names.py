"""Name pools for the sample city: Deyang-style roads, compounds, units and people.

Arterial names follow Deyang's own pattern (rivers and mountains: 长江路, 泰山路, 岷江路);
the committees' names that carry road names (华山南路社区, 辽河街社区) are used for the
roads that bound those communities.
"""

from __future__ import annotations

import numpy as np

ARTERIALS = [
    "长江西路",
    "长江东路",
    "岷江西路",
    "岷江东路",
    "泰山北路",
    "泰山南路",
    "华山北路",
    "华山南路",
    "庐山南路",
    "庐山北路",
    "黄山路",
    "衡山路",
    "嵩山路",
    "峨眉山路",
    "珠江西路",
    "珠江东路",
    "黄河路",
    "嘉陵江西路",
    "嘉陵江东路",
    "沱江路",
    "汾河路",
    "岷山路",
    "松花江路",
    "雅河路",
    "天虹路",
    "银山路",
    "太行山路",
    "文化路",
    "友谊路",
    "红旗路",
    "天山南路",
    "天山北路",
    "龙泉山路",
    "蒙山路",
    "秦岭路",
    "祁连山路",
    "昆仑山路",
    "华强路",
    "旌湖大道",
    "凯江路",
    "绵远河路",
    "石亭江路",
    "金沙江路",
    "雅砻江路",
    "大渡河路",
    "乌江路",
    "赣江路",
    "湘江路",
    "闽江路",
    "漓江路",
    "钱塘江路",
    "韶山路",
    "井冈山路",
    "燕山路",
]
STREETS = [
    "辽河街",
    "沙河街",
    "淮河街",
    "正阳街",
    "桂花街",
    "滨河街",
    "文庙街",
    "蒙南街",
    "东山街",
    "西街",
    "南街",
    "北街",
    "玉泉街",
    "石桥街",
    "凯江街",
    "工农街",
    "青衣江街",
    "清江街",
    "顺城街",
    "皂角街",
    "米市街",
    "柳沙街",
    "龙井街",
    "春锦街",
    "怡安街",
    "千佛街",
    "梨园街",
    "宝峰街",
    "双榕街",
    "南塔街",
    "新华街",
    "东湖街",
    "永兴街",
    "红雨街",
    "光华街",
    "平安街",
]
LANES = [
    "丁香巷",
    "香山巷",
    "花园巷",
    "米市巷",
    "槐树巷",
    "杨柳巷",
    "竹林巷",
    "石板巷",
    "青石巷",
    "枣子巷",
    "梧桐巷",
    "棉花巷",
    "书院巷",
    "马道巷",
    "铁匠巷",
    "水井巷",
    "石灰巷",
    "桃园巷",
    "兴隆巷",
    "仁和巷",
    "永乐巷",
    "玉带巷",
    "文星巷",
    "锦江巷",
    "双井巷",
    "柏树巷",
    "荷花巷",
]
COMPOUND_PREFIX = [
    "锦绣",
    "阳光",
    "金色",
    "翠苑",
    "丽景",
    "滨江",
    "华庭",
    "东方",
    "世纪",
    "绿洲",
    "书香",
    "和平",
    "幸福",
    "康乐",
    "天府",
    "蜀韵",
    "旌湖",
    "凯江",
    "金沙",
    "紫荆",
    "银杏",
    "香樟",
    "红枫",
    "碧水",
    "蓝湾",
    "春天",
    "明珠",
    "御景",
    "雅居",
    "祥和",
    "新城",
    "名都",
    "嘉园",
    "安居",
    "泰和",
    "恒信",
    "金鼎",
    "锦城",
    "亚太",
    "水岸",
    "龙湖",
    "南湖",
    "雍景",
    "西城",
]
COMPOUND_SUFFIX = [
    "花园",
    "小区",
    "家园",
    "苑",
    "公寓",
    "名城",
    "华府",
    "佳苑",
    "新村",
    "雅苑",
    "丽都",
    "花城",
    "尚城",
    "一品",
    "国际",
    "上院",
    "湾",
    "庭",
    "宿舍",
]
SCHOOLS = ["小学", "中学", "实验小学", "外国语学校", "第一中学", "第二小学", "幼儿园"]
HOSPITALS = ["人民医院", "中医院", "妇幼保健院", "社区卫生服务中心", "第二人民医院"]
GOVERNMENT = ["街道办事处", "区人民政府", "区行政服务中心", "公安分局", "税务局"]
INDUSTRY = ["重型机械厂", "汽轮机配件厂", "电机制造厂", "食品产业园", "物流园", "建材厂"]
SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任"
)
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红琴建国文斌志宏春梅兵")


class NamePool:
    """Draws names without repeats (until a pool runs out, then numbers them)."""

    def __init__(self, rng: np.random.Generator, pool: list[str]) -> None:
        self._order = [pool[i] for i in rng.permutation(len(pool))]
        self._used: set[str] = set()
        self._round = 0

    def take(self, preferred: str | None = None) -> str:
        if preferred and preferred not in self._used:
            self._used.add(preferred)
            return preferred
        while True:
            if not self._order:
                self._round += 1
                self._order = sorted(self._used)
            name = self._order.pop(0)
            candidate = name if self._round == 0 else _numbered(name, self._round)
            if candidate not in self._used:
                self._used.add(candidate)
                return candidate


def _numbered(name: str, n: int) -> str:
    """黄河路 → 黄河二路: how cities name the next road of a family."""
    digits = "一二三四五六七八九十"
    word = digits[(n % 10)] if n < 10 else str(n)
    for suffix in ("路", "街", "巷"):
        if name.endswith(suffix):
            return f"{name[:-1]}{word}{suffix}"
    return f"{name}{word}"


def compound_name(rng: np.random.Generator, used: set[str]) -> str:
    for _ in range(200):
        name = (
            COMPOUND_PREFIX[int(rng.integers(len(COMPOUND_PREFIX)))]
            + COMPOUND_SUFFIX[int(rng.integers(len(COMPOUND_SUFFIX)))]
        )
        if name not in used:
            used.add(name)
            return name
    n = len(used)
    name = f"{COMPOUND_PREFIX[n % len(COMPOUND_PREFIX)]}{n}号院"
    while name in used:  # the count can meet a name it gave before: never twice
        n += 1
        name = f"{COMPOUND_PREFIX[n % len(COMPOUND_PREFIX)]}{n}号院"
    used.add(name)
    return name


def person_name(rng: np.random.Generator) -> str:
    given = "".join(GIVEN[int(i)] for i in rng.integers(len(GIVEN), size=int(rng.integers(1, 3))))
    return SURNAMES[int(rng.integers(len(SURNAMES)))] + given


def phone_number(rng: np.random.Generator) -> str:
    prefix = ["138", "139", "135", "136", "150", "151", "158", "180", "181", "189", "177"]
    return prefix[int(rng.integers(len(prefix)))] + "".join(
        str(int(d)) for d in rng.integers(10, size=8)
    )


def road_of_committee(name: str) -> str | None:
    """华山南路社区居民委员会 → 华山南路; 文昌社区… → None."""
    short = name.split("社区")[0]
    return short if short.endswith(("路", "街", "巷")) else None
