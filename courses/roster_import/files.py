"""Reading uploaded roster files: zips opened, text decoded (UTF-8 or CP949), CSV rows and columns found."""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple

from courses.errors import N_

MAX_ZIP_MEMBERS = 50
MAX_UNZIPPED_BYTES = 512 * 1024 * 1024  # a zip bomb stops here

# Canonical file name → what it holds; matched case-insensitively on the base name.
KNOWN_FILES = {
    "orgs.csv": "orgs",
    "classes.csv": "classes",
    "users.csv": "users",
    "enrollments.csv": "enrollments",
    "academicsessions.csv": "academicSessions",
}
IGNORED_FILES = {
    "manifest.csv",
    "courses.csv",
    "demographics.csv",
    "lineitems.csv",
    "results.csv",
    "categories.csv",
    "resources.csv",
    "classresources.csv",
    "courseresources.csv",
    "userresources.csv",
    "roles.csv",
    "userprofiles.csv",
    "scoreScales.csv".lower(),
    "lineitemlearningobjectiveids.csv",
}
FILE_NAMES = {v: k if k != "academicsessions.csv" else "academicSessions.csv" for k, v in KNOWN_FILES.items()}

REQUIRED: dict[str, tuple[str, ...]] = {
    "orgs": ("sourcedId", "name", "type"),
    "classes": ("sourcedId", "title", "schoolSourcedId"),
    "users": ("sourcedId", "username", "givenName", "familyName", "role", "orgSourcedIds"),
    "enrollments": ("classSourcedId", "userSourcedId", "role"),
    "academicSessions": ("sourcedId", "schoolYear"),
}
OPTIONAL: dict[str, tuple[str, ...]] = {
    "orgs": ("parentSourcedId", "status"),
    "classes": ("grades", "classCode", "classType", "termSourcedIds", "schoolYear", "status"),
    "users": ("agentSourcedIds", "email", "password", "enabledUser", "status"),
    "enrollments": ("sourcedId", "status"),
    "academicSessions": (),
}


class RosterFileError(Exception):
    """A file that cannot be read as CSV text; ``message``/``params`` are a Korean msgid and its values."""

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


class Table(NamedTuple):
    """One CSV file read: its header mapped to canonical columns, and its non-empty rows."""

    name: str  # the file name as given (for messages)
    cols: dict[str, int]  # canonical column → index; absent optional columns → the padding cell
    rows: list[tuple[int, list[str]]]  # (line number, cells padded with one trailing "")


def decode_csv(data: bytes) -> str:
    """CSV bytes → text: BOM → UTF-8; else strict UTF-8; else CP949. Binary data raises RosterFileError."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise RosterFileError(
            N_("UTF-16 파일은 읽을 수 없습니다. 'CSV UTF-8' 또는 'CSV (쉼표로 분리)'로 저장해 주세요.")
        )
    if b"\x00" in data:
        raise RosterFileError(N_("CSV 텍스트 파일이 아닙니다. 엑셀에서 'CSV'로 저장한 파일을 올려 주세요."))
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8")
        except UnicodeDecodeError as err:
            raise RosterFileError(
                N_("UTF-8 표시(BOM)가 있지만 UTF-8로 읽을 수 없습니다 (%(pos)d바이트 근처)."), pos=err.start
            ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp949")
    except UnicodeDecodeError:
        raise RosterFileError(
            N_("UTF-8로도 CP949(EUC-KR)로도 읽을 수 없습니다. CSV 텍스트 파일인지 확인해 주세요.")
        ) from None


def expand_uploads(
    files: Mapping[str, bytes] | Iterable[tuple[str, bytes]],
) -> Iterator[tuple[str, bytes | RosterFileError]]:
    """Uploaded (name, bytes) pairs, with zips opened into their members."""
    pairs = files.items() if isinstance(files, Mapping) else files
    for raw_name, data in pairs:
        name = (raw_name or "").replace("\\", "/").rsplit("/", 1)[-1]
        if data[:4] != b"PK\x03\x04" and not name.lower().endswith(".zip"):
            yield name, data
            continue
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            members = [
                i for i in archive.infolist() if not i.is_dir() and not i.filename.startswith("__MACOSX/")
            ]
        except (zipfile.BadZipFile, OSError):
            yield name, RosterFileError(N_("ZIP 파일을 열 수 없습니다."))
            continue
        with archive:
            if any(i.filename == "[Content_Types].xml" for i in members):
                yield (
                    name,
                    RosterFileError(
                        N_("엑셀(xlsx) 파일은 바로 읽지 않습니다. 시트마다 'CSV'로 저장해 올려 주세요.")
                    ),
                )
                continue
            if len(members) > MAX_ZIP_MEMBERS or sum(i.file_size for i in members) > MAX_UNZIPPED_BYTES:
                yield name, RosterFileError(N_("ZIP 파일 안의 파일이 너무 많거나 큽니다."))
                continue
            for info in members:
                base = info.filename.rsplit("/", 1)[-1]
                if base.startswith("."):
                    continue
                try:
                    yield base, archive.read(info)
                except (zipfile.BadZipFile, OSError, NotImplementedError):
                    yield base, RosterFileError(N_("ZIP 파일 안의 파일을 풀 수 없습니다."))


def parse_table(kind: str, name: str, text: str) -> Table:
    """Text → a table with the required columns checked; raises RosterFileError."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as err:
        raise RosterFileError(N_("CSV 형식이 올바르지 않습니다: %(detail)s"), detail=str(err)) from None
    if not header:
        raise RosterFileError(N_("빈 파일입니다."))
    lookup = {h.strip().lstrip("\ufeff").lower(): i for i, h in reversed(list(enumerate(header)))}
    missing = [c for c in REQUIRED[kind] if c.lower() not in lookup]
    if missing:
        raise RosterFileError(
            N_("필수 열 %(cols)s이(가) 없습니다 (1행 머리글을 확인해 주세요)."),
            cols=", ".join(f"'{c}'" for c in missing),
        )
    width = len(header)
    cols = {c: lookup.get(c.lower(), width) for c in REQUIRED[kind] + OPTIONAL[kind]}
    rows: list[tuple[int, list[str]]] = []
    line = 1
    try:
        for row in reader:
            start = line + 1
            line = reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) <= width:  # pad so absent optional columns (index `width`) read as ""
                row.extend([""] * (width + 1 - len(row)))
            else:
                row = row[:width] + [""]
            rows.append((start, row))
    except csv.Error as err:
        raise RosterFileError(
            N_("%(line)d행 근처의 CSV 형식이 올바르지 않습니다: %(detail)s"), line=line + 1, detail=str(err)
        ) from None
    return Table(name, cols, rows)
