"""The cross-curricular themes (범교과 학습 주제) and delivery formats schools can request."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from courses import text
from courses.errors import N_, Errors
from courses.models import ContentElement, Delivery, Role, Theme, User
from courses.policy import require

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


def update_theme(
    session: Session,
    actor: User,
    theme: Theme,
    *,
    name: str,
    description: str,
    active: bool,
    elements: list[str],
) -> Theme:
    """Office admins edit a theme's name, description, visibility and content elements."""
    require(actor.role == Role.office_admin)
    e = Errors()
    name, description = text.clean(name), text.clean(description, multiline=True)
    if not 1 <= text.visible_length(name) <= 80:
        e.add("name", N_("이름은 1~%(max)d자로 입력하세요."), max=80)
    if len(description) > 2000:
        e.add("description", N_("%(max)d자 이내로 입력하세요."), max=2000)
    clean = [text.clean(el) for el in elements if text.is_visible(text.clean(el))]
    if any(len(el) > 80 for el in clean):
        e.add("elements", N_("내용 요소는 %(max)d자 이내로 입력하세요."), max=80)
    e.raise_if_any()
    theme.name, theme.description, theme.active = name, description.strip(), active
    by_name = {el.name: el for el in theme.elements}
    theme.elements = [by_name.get(n) or ContentElement(name=n) for n in dict.fromkeys(clean)]
    for i, el in enumerate(theme.elements):
        el.position = i
    return theme
