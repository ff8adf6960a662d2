"""Which encoding a shapefile's .dbf really uses.

Departments send GBK files without a .cpg, and files whose .cpg says GBK but whose text
is UTF-8. UTF-8 is tested first and strictly: Chinese GBK text is practically never
valid UTF-8, while UTF-8 bytes often decode (wrongly) as GB18030.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from gridgis.errors import InputError

# .cpg spellings seen in the wild → Python codec names.
_CPG_ALIASES = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "65001": "utf-8",
    "gbk": "gbk",
    "cp936": "gbk",
    "936": "gbk",
    "gb2312": "gbk",
    "ansi 936": "gbk",
    "gb18030": "gb18030",
    "54936": "gb18030",
    "latin1": "latin-1",
    "iso-8859-1": "latin-1",
    "1252": "cp1252",
}


@dataclass(frozen=True)
class DbfInfo:
    records: int
    header_length: int
    record_length: int


@dataclass(frozen=True)
class Detected:
    encoding: str  # codec name for GDAL/pyogrio, e.g. "GBK", "UTF-8"
    how: str  # "cpg", "detected", "cpg-corrected", "given"


def read_dbf_header(path: Path) -> DbfInfo:
    with path.open("rb") as f:
        head = f.read(32)
    if len(head) < 32:
        raise InputError("truncated .dbf header", source=path.name)
    records, header_length, record_length = struct.unpack("<IHH", head[4:12])
    return DbfInfo(records, header_length, record_length)


def _text_bytes(path: Path, info: DbfInfo) -> bytes:
    """Field names and records: everything in the .dbf that carries text.

    Field names are cut at 10 bytes, often in the middle of a multibyte character (GDAL
    and ArcGIS both do this), so a name's broken last character is dropped here.
    """
    data = path.read_bytes()
    names = []
    for i in range(32, info.header_length - 1, 32):
        raw = data[i : i + 11].split(b"\x00", 1)[0]
        names.append(
            next(
                (
                    raw[: len(raw) - cut]
                    for codec in ("utf-8", "gb18030")
                    for cut in range(4)
                    if _decodes(raw[: len(raw) - cut], codec)
                ),
                raw,
            )
        )
    return b"\n".join(names) + b"\n" + data[info.header_length :]


def _decodes(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


def detect_dbf_encoding(dbf: Path, override: str | None = None) -> Detected:
    if override:
        return Detected(override.upper(), "given")
    info = read_dbf_header(dbf)
    data = _text_bytes(dbf, info)
    cpg_path = dbf.with_suffix(".cpg")
    if not cpg_path.exists():
        cpg_path = dbf.with_suffix(".CPG")
    declared = None
    if cpg_path.exists():
        label = cpg_path.read_text("ascii", errors="replace").strip().lower()
        declared = _CPG_ALIASES.get(label)
    if not data.isascii() and _decodes(data, "utf-8"):
        how = "cpg" if declared == "utf-8" else ("cpg-corrected" if declared else "detected")
        return Detected("UTF-8", how)
    if declared and declared != "utf-8" and _decodes(data, declared):
        return Detected(declared.upper(), "cpg")
    if data.isascii():
        return Detected(
            "UTF-8" if declared in (None, "utf-8") else declared.upper(),
            "cpg" if declared else "detected",
        )
    for codec in ("gbk", "gb18030"):
        if _decodes(data, codec):
            return Detected(codec.upper(), "cpg-corrected" if declared else "detected")
    bad = _first_bad_record(dbf, info)
    raise InputError(
        f"text is neither UTF-8 nor GBK/GB18030 (first bad bytes in row {bad}); "
        "give the file's text encoding",
        source=dbf.name,
        param="encoding",
    )


def _first_bad_record(dbf: Path, info: DbfInfo) -> int:
    data = dbf.read_bytes()
    for row in range(info.records):
        start = info.header_length + row * info.record_length
        chunk = data[start : start + info.record_length]
        if not (_decodes(chunk, "utf-8") or _decodes(chunk, "gb18030")):
            return row + 1
    return 0
