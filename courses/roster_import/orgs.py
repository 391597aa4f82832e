"""Importing orgs.csv: the office itself, its support offices and schools, parents before children."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from courses.errors import N_
from courses.models import Organisation, OrgKind, SchoolLevel
from courses.roster_import.bulk import chunks, matched
from courses.roster_import.files import Table
from courses.roster_import.report import Failed
from courses.roster_import.validation import ORG_TYPES, school_level

if TYPE_CHECKING:
    from courses.roster_import.importer import ImportRun


def import_orgs(run: ImportRun, t: Table) -> None:
    """Upsert the orgs by sourcedId (code), level by level so that a parent exists before its children."""
    c = t.cols
    i_sid, i_name, i_type, i_parent = c["sourcedId"], c["name"], c["type"], c["parentSourcedId"]
    counts = run.result.counts["orgs"]
    seen: dict[str, int] = {}
    candidates: list[tuple[int, str, str, OrgKind, str]] = []
    for line, row in t.rows:
        sid, name, type_raw, parent = (
            row[i_sid].strip(),
            row[i_name].strip(),
            row[i_type].strip(),
            row[i_parent].strip(),
        )
        if not sid:
            run.report.error(t.name, line, N_("sourcedId가 비어 있습니다."), entity="orgs")
            continue
        if sid in seen:
            run.report.error(
                t.name,
                line,
                N_("sourcedId '%(ref)s'이(가) 이 파일에서 중복됩니다 (%(first)d행에 먼저 나옵니다)."),
                entity="orgs",
                ref=sid,
                first=seen[sid],
            )
            continue
        seen[sid] = line
        kind = ORG_TYPES.get(type_raw.lower())
        reason: tuple[str, dict[str, Any]] | None = None
        if kind is None:
            reason = (
                N_("기관 유형 '%(value)s'을(를) 알 수 없습니다 (district, local, school 중 하나)."),
                {"value": type_raw},
            )
        elif not name:
            reason = (N_("이름이 비어 있습니다."), {})
        elif len(name) > 120 or len(sid) > 64:
            reason = (N_("이름(120자)이나 sourcedId(64자)가 너무 깁니다."), {})
        if reason is not None:
            run.report.error(t.name, line, reason[0], entity="orgs", **reason[1])
            run.org_failed[sid] = Failed(t.name, line)
            continue
        candidates.append((line, sid, name, kind, parent))  # type: ignore[arg-type]

    # Who already holds these codes, anywhere: a code of another office cannot be taken over.
    existing: dict[str, tuple[int, OrgKind, str, int | None, int | None, SchoolLevel | None]] = {}
    codes = [sid for _, sid, _, _, _ in candidates]
    for chunk in chunks(codes):
        for db_row in run.s.execute(
            select(
                Organisation.code,
                Organisation.id,
                Organisation.kind,
                Organisation.name,
                Organisation.parent_id,
                Organisation.office_id,
                Organisation.school_level,
            ).where(Organisation.code.in_(chunk))
        ):
            existing[matched(db_row[0])] = tuple(db_row[1:])  # type: ignore[assignment]

    # Districts first (the office itself), then support offices, then schools: parents before children.
    order = {OrgKind.office: 0, OrgKind.support_office: 1, OrgKind.school: 2}
    candidates.sort(key=lambda r: (order[r[3]], r[0]))
    for level in (OrgKind.office, OrgKind.support_office, OrgKind.school):
        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        for line, sid, name, kind, parent in (r for r in candidates if r[3] == level):
            held = existing.get(sid)
            if kind == OrgKind.office:
                _district(run, t.name, line, sid, name, held)
                continue
            if held is not None and held[4] != run.office.id:
                run.report.error(
                    t.name,
                    line,
                    N_("기관 '%(ref)s'은(는) 다른 교육청 소속이라 가져올 수 없습니다."),
                    entity="orgs",
                    ref=sid,
                )
                run.org_failed[sid] = Failed(t.name, line)
                continue
            if held is not None and held[1] != kind:
                run.report.error(
                    t.name, line, N_("기관 '%(ref)s'의 유형은 바꿀 수 없습니다."), entity="orgs", ref=sid
                )
                run.org_failed[sid] = Failed(t.name, line)
                continue
            parent_id = _org_parent(run, t.name, line, kind, parent)
            if parent_id is None:
                run.org_failed[sid] = Failed(t.name, line)
                continue
            level_guess = school_level(name) if kind == OrgKind.school else None
            if held is None:
                new.append(
                    {
                        "kind": kind,
                        "name": name,
                        "code": sid,
                        "parent_id": parent_id,
                        "office_id": run.office.id,
                        "school_level": level_guess,
                    }
                )
                continue
            oid, _kind, old_name, old_parent, _office, old_level = held
            want_level = level_guess or old_level
            if (old_name, old_parent, old_level) != (name, parent_id, want_level):
                changed.append({"id": oid, "name": name, "parent_id": parent_id, "school_level": want_level})
            else:
                counts.unchanged += 1
            run.orgs[sid] = (oid, kind)
        for chunk in chunks(new):
            for oid, code, kind in run.s.execute(
                insert(Organisation).returning(Organisation.id, Organisation.code, Organisation.kind),
                chunk,
            ):
                run.orgs[matched(code)] = (oid, kind)
        if changed:
            run.s.execute(update(Organisation), changed)
        counts.created += len(new)
        counts.updated += len(changed)


def _district(
    run: ImportRun, file: str, line: int, sid: str, name: str, held: tuple[Any, ...] | None
) -> None:
    counts = run.result.counts["orgs"]
    if run.office.code is None and held is None:
        run.office.code = sid  # the office adopts its OneRoster id on its first import
        run.orgs[sid] = (run.office.id, OrgKind.office)
        counts.updated += 1
    elif sid != run.office.code:
        run.report.error(
            file,
            line,
            N_(
                "교육청 '%(ref)s'은(는) 관리자님의 교육청이 아닙니다. 관할 교육청의 명단만 가져올 수 있습니다."
            ),
            entity="orgs",
            ref=sid,
        )
        run.org_failed[sid] = Failed(file, line)
        return
    elif name != run.office.name:
        counts.updated += 1
    else:
        counts.unchanged += 1
    if name != run.office.name:
        run.office.name = name


def _org_parent(run: ImportRun, file: str, line: int, kind: OrgKind, parent: str) -> int | None:
    if not parent:
        return run.office.id
    ref = run.org_ref(file, line, "orgs", parent, N_("상위 기관"))
    if ref is None:
        return None
    pid, pkind = ref
    allowed = (
        (OrgKind.office,) if kind == OrgKind.support_office else (OrgKind.office, OrgKind.support_office)
    )
    if pkind not in allowed:
        run.report.error(
            file,
            line,
            N_("상위 기관 '%(ref)s'은(는) 교육청이나 교육지원청이어야 합니다."),
            entity="orgs",
            ref=parent,
        )
        return None
    return pid
