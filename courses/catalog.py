"""The cross-curricular themes (범교과 학습 주제) and delivery formats schools can request."""

from __future__ import annotations

import re

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from courses import text
from courses.errors import N_, Conflict, Errors
from courses.models import ContentElement, Course, Delivery, Role, Theme, User, instructor_theme
from courses.policy import may_manage_themes, require

# The ten themes of the 2022 revised national curriculum, with their content elements.
THEMES: list[tuple[str, str, str, list[str]]] = [
    (
        "safety_health",
        "안전·건강",
        "Safety and health",
        [
            "생활 안전",
            "교통 안전",
            "폭력 예방 및 신변 보호",
            "약물 및 사이버 중독 예방",
            "재난 안전",
            "직업 안전",
            "응급처치",
            "성교육",
        ],
    ),
    ("character", "인성", "Character", ["예", "효", "정직", "책임", "존중", "배려", "소통", "협동"]),
    ("career", "진로", "Careers", ["자기 이해", "진로 탐색", "진로 디자인과 준비", "일과 직업 세계 이해"]),
    (
        "democratic_citizenship",
        "민주시민",
        "Democratic citizenship",
        ["민주주의 이해", "참여와 실천", "미디어 리터러시"],
    ),
    ("human_rights", "인권", "Human rights", ["인권 감수성", "아동·청소년 인권", "차별 예방"]),
    ("multicultural", "다문화", "Multicultural", ["문화 다양성", "반편견", "세계 시민"]),
    ("unification", "통일", "Unification", ["통일 의식", "평화 교육", "북한 이해"]),
    ("dokdo", "독도", "Dokdo", ["독도의 역사", "독도의 지리와 자연", "영토 주권"]),
    ("economy_finance", "경제·금융", "Economy and finance", ["금융 이해", "소비자 교육", "기업가 정신"]),
    (
        "environment_sd",
        "환경·지속가능발전",
        "Environment and sustainable development",
        ["기후 변화", "생태 감수성", "자원 순환", "지속가능발전목표(SDGs)"],
    ),
]

DELIVERY_GUIDE: dict[Delivery, tuple[str, str]] = {
    Delivery.live: (
        N_("실시간 쌍방향"),
        N_("교사·강사와 학생이 화상으로 함께하는 수업입니다. 출석 시간이 기록됩니다."),
    ),
    Delivery.recorded: (
        N_("녹화 강의"),
        N_("학생이 자기 속도로 보는 강의입니다. 실제 시청한 구간만 인정됩니다."),
    ),
    Delivery.blended: (N_("혼합"), N_("실시간 수업과 녹화 강의를 섞어 운영합니다.")),
}

ROLE_GUIDE: dict[Role, str] = {
    Role.office_admin: N_(
        "교육청 단위 강좌를 요청하고, 교육청·학교 단위 요청을 승인합니다. 주제와 강사 인력풀을 관리합니다."
    ),
    Role.school_admin: N_(
        "학교 단위 강좌를 요청하고, 학급 단위 요청을 승인합니다. 운영 결과의 이수를 확인합니다."
    ),
    Role.teacher: N_("담당 학급을 대상으로 강좌를 요청하고, 승인되면 학생을 등록해 운영합니다."),
    Role.instructor: N_("배정된 강좌의 수업을 진행합니다."),
    Role.student: N_("등록된 강좌를 수강합니다."),
    Role.parent: N_("자녀의 수강 현황을 봅니다."),
}


def seed_themes(session: Session) -> int:
    """Insert the national theme list where missing; returns how many themes were added."""
    existing = set(session.scalars(select(Theme.code)))
    added = 0
    for pos, (code, name, name_en, elements) in enumerate(THEMES):
        if code in existing:
            continue
        theme = Theme(code=code, name=name, name_en=name_en, position=pos)
        theme.elements = [ContentElement(name=el, position=i) for i, el in enumerate(elements)]
        session.add(theme)
        added += 1
    return added


def list_themes(session: Session, *, include_inactive: bool = False) -> list[Theme]:
    """Themes in display order, with their content elements loaded."""
    stmt = select(Theme).options(selectinload(Theme.elements)).order_by(Theme.position, Theme.id)
    if not include_inactive:
        stmt = stmt.where(Theme.active)
    return list(session.scalars(stmt))


CODE_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
NAME_MAX, DESCRIPTION_MAX, ELEMENTS_MAX = 80, 2000, 40


def _theme_fields(
    session: Session,
    e: Errors,
    theme: Theme | None,
    *,
    name: str,
    name_en: str,
    description: str,
    elements: list[str],
) -> tuple[str, str, str, list[str]]:
    """A theme's names, description and content elements, cleaned, with their rules checked into `e`."""
    name, name_en = text.clean(name), text.clean(name_en)
    description = text.clean(description, multiline=True)
    if not 1 <= text.visible_length(name) <= NAME_MAX:
        e.add("name", N_("이름은 1~%(max)d자로 입력하세요."), max=NAME_MAX)
    else:
        same = select(Theme.id).where(Theme.name == name)
        if theme is not None:
            same = same.where(Theme.id != theme.id)
        if session.scalar(same) is not None:
            e.add("name", N_("같은 이름의 주제가 이미 있습니다."))
    if len(name_en) > NAME_MAX:
        e.add("name_en", N_("%(max)d자 이내로 입력하세요."), max=NAME_MAX)
    if len(description) > DESCRIPTION_MAX:
        e.add("description", N_("%(max)d자 이내로 입력하세요."), max=DESCRIPTION_MAX)
    clean = list(dict.fromkeys(text.clean(el) for el in elements if text.is_visible(text.clean(el))))
    if any(len(el) > NAME_MAX for el in clean):
        e.add("elements", N_("내용 요소는 %(max)d자 이내로 입력하세요."), max=NAME_MAX)
    elif len(clean) > ELEMENTS_MAX:
        e.add("elements", N_("내용 요소는 %(max)d개까지 넣을 수 있습니다."), max=ELEMENTS_MAX)
    return name, name_en, description, clean


def create_theme(
    session: Session,
    actor: User,
    *,
    code: str,
    name: str,
    name_en: str,
    description: str,
    elements: list[str],
) -> Theme:
    """Office admins add a theme to the list offered in new requests (placed last)."""
    require(may_manage_themes(actor))
    e = Errors()
    code = code.strip().lower()
    if not CODE_RE.match(code):
        e.add("code", N_("코드는 영문 소문자로 시작하는 영문 소문자·숫자·_ 2~40자입니다."))
    elif session.scalar(select(Theme.id).where(Theme.code == code)) is not None:
        e.add("code", N_("이미 쓰이는 코드입니다."))
    name, name_en, description, clean = _theme_fields(
        session, e, None, name=name, name_en=name_en, description=description, elements=elements
    )
    e.raise_if_any()
    position = (session.scalar(select(func.max(Theme.position))) or 0) + 1
    theme = Theme(code=code, name=name, name_en=name_en, description=description, position=position)
    theme.elements = [ContentElement(name=n, position=i) for i, n in enumerate(clean)]
    session.add(theme)
    session.flush()
    return theme


def update_theme(
    session: Session,
    actor: User,
    theme: Theme,
    *,
    name: str,
    description: str,
    elements: list[str],
    name_en: str | None = None,
) -> Theme:
    """Office admins edit a theme's names, description and content elements.

    A content element a course was requested with cannot be taken out (the course still names it).
    """
    require(may_manage_themes(actor))
    e = Errors()
    name, name_en_clean, description, clean = _theme_fields(
        session,
        e,
        theme,
        name=name,
        name_en=theme.name_en if name_en is None else name_en,
        description=description,
        elements=elements,
    )
    by_name = {el.name: el for el in theme.elements}
    dropped = [el for n, el in by_name.items() if n not in clean]
    if dropped and "elements" not in e.errors:
        used = set(
            session.scalars(
                select(Course.content_element_id).where(
                    Course.content_element_id.in_([el.id for el in dropped])
                )
            )
        )
        names = [el.name for el in dropped if el.id in used]
        if names:
            e.add(
                "elements",
                N_("강좌에서 쓰고 있는 내용 요소는 뺄 수 없습니다: %(names)s"),
                names=", ".join(names),
            )
    e.raise_if_any()
    theme.name, theme.name_en, theme.description = name, name_en_clean, description
    theme.elements = [by_name.get(n) or ContentElement(name=n) for n in clean]
    for i, el in enumerate(theme.elements):
        el.position = i
    return theme


def set_theme_active(session: Session, actor: User, theme: Theme, active: bool) -> Theme:
    """Retire a theme (no longer offered in new requests; courses that use it still show it) or bring it back."""
    require(may_manage_themes(actor))
    theme.active = active
    return theme


def courses_using(session: Session, theme: Theme) -> int:
    """How many courses (of any office, in any status) were requested with the theme."""
    return session.scalar(select(func.count()).where(Course.theme_id == theme.id)) or 0


def delete_theme(session: Session, actor: User, theme: Theme) -> None:
    """Delete a theme no course uses; while any does, Conflict (retire it instead)."""
    require(may_manage_themes(actor))
    used = courses_using(session, theme)
    if used:
        raise Conflict(
            N_("강좌 %(n)d개가 이 주제를 쓰고 있어 삭제할 수 없습니다. 새 요청에서 빼려면 사용 중지하세요."),
            n=used,
        )
    # The pool's theme links go with it (the foreign key cascades too, where the database enforces it).
    session.execute(delete(instructor_theme).where(instructor_theme.c.theme_id == theme.id))
    session.delete(theme)
    session.flush()
