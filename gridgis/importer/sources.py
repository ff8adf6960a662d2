"""Turn what a user hands us (a path, a zip) into one dataset GDAL can read, safely."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from gridgis.errors import InputError, TooLargeError
from gridgis.importer.encoding import read_dbf_header

SUFFIX_DRIVER = {
    ".shp": "shapefile",
    ".gpkg": "geopackage",
    ".geojson": "geojson",
    ".json": "geojson",
    ".kml": "kml",
}
SHAPEFILE_SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
_ZIP_EXPANSION_LIMIT = 20  # refuse zips that inflate more than 20× (and over the size limit)


@dataclass(frozen=True)
class Source:
    name: str  # what the user gave, for messages and provenance
    path: Path  # the dataset GDAL opens
    sha256: str
    driver: str

    def without_paths(self, text: str) -> str:
        """``text`` (a GDAL message, say) with the paths of this machine put as the user
        knows them: the dataset by its display name, a file beside it by its own name.

        Uploads and unpacked zips sit in temporary folders whose names are nobody's
        business but the server's.
        """
        text = text.replace(str(self.path), self.name)
        return without_folder(text, self.path.parent)


def without_folder(text: str, folder: Path) -> str:
    """``text`` with ``folder`` (as given and resolved) taken out of the paths in it:
    ``folder/a.dbf`` becomes ``a.dbf`` and the folder itself ``.``. Only whole paths are
    touched, so a relative folder named ``data`` leaves "metadata" alone, and the root
    folder leaves every "/" alone."""
    for form in dict.fromkeys((str(folder), str(folder.resolve()))):
        if form in (".", os.sep):
            continue
        text = text.replace(form + os.sep, "")
        text = re.sub(
            rf"(?<![\w{re.escape(os.sep)}.]){re.escape(form)}(?![\w.{re.escape(os.sep)}])",
            ".",
            text,
        )
    return text


def _sibling(path: Path, suffix: str) -> Path | None:
    for candidate in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
        if candidate.exists():
            return candidate
    return None


def _hash(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for p in paths:
        digest.update(p.suffix.lower().encode())
        with p.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _check_shapefile(shp: Path, name: str) -> list[Path]:
    """The files that make up the shapefile; refuse ones with a part missing or whose
    parts disagree."""
    parts = [p for s in SHAPEFILE_SIDECARS if (p := _sibling(shp, s)) is not None]
    if shp.stat().st_size < 100:
        raise InputError("truncated .shp (shorter than its 100-byte header)", source=name)
    shx = _sibling(shp, ".shx")
    dbf = _sibling(shp, ".dbf")
    if shx is None or dbf is None:
        # Without its .shx GDAL cannot find the shapes; without its .dbf it would read
        # shapes with no fields at all.
        missing = [shp.with_suffix(s).name for s, p in ((".shx", shx), (".dbf", dbf)) if p is None]
        raise InputError(
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing: a "
            "shapefile needs its .shx and .dbf beside the .shp",
            source=name,
        )
    shapes = (shx.stat().st_size - 100) // 8
    records = read_dbf_header(dbf).records
    if shapes != records:
        raise InputError(
            f".shx lists {shapes} shapes but .dbf has {records} rows; the parts do not "
            "belong together or one is truncated",
            source=name,
        )
    return parts


def _safe_members(archive: zipfile.ZipFile, name: str, max_bytes: int) -> list[zipfile.ZipInfo]:
    members = []
    total = 0
    for info in archive.infolist():
        member = PurePosixPath(info.filename.replace("\\", "/"))
        if member.is_absolute() or ".." in member.parts:
            raise InputError(f"zip entry {info.filename!r} points outside the archive", source=name)
        if info.is_dir() or member.name.startswith(".") or "__MACOSX" in member.parts:
            continue
        total += info.file_size
        members.append(info)
    limit = max(max_bytes, 1) * _ZIP_EXPANSION_LIMIT
    if total > limit:
        raise TooLargeError(f"zip inflates to {total} bytes (limit {limit})", source=name)
    return members


def _datasets(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIX_DRIVER and p.is_file())


@contextmanager
def open_source(path: Path, max_bytes: int, display_name: str | None = None) -> Iterator[Source]:
    """Yield a readable :class:`Source`; zips are unpacked into a private temp dir."""
    name = display_name or path.name
    if not path.exists():
        raise InputError("no such file", source=str(path))
    if path.is_dir():
        raise InputError("is a directory; give the file to import", source=str(path))
    size = path.stat().st_size
    if size > max_bytes:
        raise TooLargeError(f"{size} bytes is over the {max_bytes}-byte limit", source=name)
    suffix = path.suffix.lower()
    if suffix == ".zip":
        if not zipfile.is_zipfile(path):
            raise InputError("not a readable zip archive (corrupt or truncated)", source=name)
        with tempfile.TemporaryDirectory(prefix="gridgis-zip-") as tmp:
            try:
                with zipfile.ZipFile(path) as archive:
                    members = _safe_members(archive, name, max_bytes)
                    for info in members:
                        archive.extract(info, tmp)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                why = without_folder(str(exc), Path(tmp))
                raise InputError(f"cannot unpack zip: {why}", source=name) from exc
            found = _datasets(Path(tmp))
            if not found:
                raise InputError("zip holds no .shp, .gpkg, .geojson or .kml dataset", source=name)
            if len(found) > 1:
                inner = ", ".join(p.relative_to(tmp).as_posix() for p in found)
                raise InputError(f"zip holds several datasets ({inner}); zip one", source=name)
            with open_source(
                found[0],
                max_bytes * _ZIP_EXPANSION_LIMIT,
                f"{name}!{found[0].relative_to(tmp).as_posix()}",
            ) as inner_source:
                yield Source(name, inner_source.path, _hash([path]), inner_source.driver)
        return
    driver = SUFFIX_DRIVER.get(suffix)
    if driver is None:
        known = ", ".join(sorted({*SUFFIX_DRIVER, ".zip"}))
        raise InputError(
            f"unsupported file type {suffix or '(none)'}; use one of {known}", source=name
        )
    parts = _check_shapefile(path, name) if driver == "shapefile" else [path]
    yield Source(name, path, _hash(parts), driver)
