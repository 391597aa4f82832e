"""All models, importable from one place so every mapper is configured together."""

from courses.models.api_tokens import ApiToken, ApiTokenUse
from courses.models.audit import AccessAction, AccessLog
from courses.models.calendar import CalendarFeed
from courses.models.catalog import ContentElement, Delivery, Theme
from courses.models.completion import CompletionConfirmation, CompletionRecord, RecordLocked
from courses.models.course import (
    Course,
    CourseEvent,
    CourseLevel,
    CourseStatus,
    CourseTarget,
    Enrolment,
    EventKind,
    InstructorMode,
    Lesson,
    LessonKind,
    Material,
    Notification,
    RecordingPolicy,
)
from courses.models.evaluation import (
    ItemKind,
    RespondentRole,
    Survey,
    SurveyAnswer,
    SurveyItem,
    SurveyParticipation,
    SurveyResponse,
)
from courses.models.fees import FeeLine, FeeLineKind, FeeLocked, FeeRate, FeeStatement, StatementStatus
from courses.models.live import Attendance, ChatMessage, LiveSession, LiveStatus, Recording, SfuEvent
from courses.models.org import Organisation, OrgKind, SchoolClass, SchoolLevel
from courses.models.people import (
    ClassMembership,
    InstructorProfile,
    MemberRole,
    ParentLink,
    Role,
    User,
    instructor_theme,
)
from courses.models.sessions import LoginSession
from courses.models.video import Video, VideoState, WatchEvent, WatchProgress, WatchSession

__all__ = [
    "AccessAction",
    "AccessLog",
    "ApiToken",
    "ApiTokenUse",
    "Attendance",
    "CalendarFeed",
    "ChatMessage",
    "CompletionConfirmation",
    "CompletionRecord",
    "RecordLocked",
    "FeeLine",
    "FeeLineKind",
    "FeeLocked",
    "FeeRate",
    "FeeStatement",
    "StatementStatus",
    "LiveSession",
    "LiveStatus",
    "Recording",
    "SfuEvent",
    "ClassMembership",
    "ContentElement",
    "Course",
    "CourseEvent",
    "CourseLevel",
    "CourseStatus",
    "CourseTarget",
    "Delivery",
    "Enrolment",
    "EventKind",
    "InstructorMode",
    "InstructorProfile",
    "ItemKind",
    "Lesson",
    "LessonKind",
    "LoginSession",
    "Material",
    "MemberRole",
    "Notification",
    "OrgKind",
    "Organisation",
    "ParentLink",
    "RecordingPolicy",
    "RespondentRole",
    "Role",
    "SchoolClass",
    "SchoolLevel",
    "Survey",
    "SurveyAnswer",
    "SurveyItem",
    "SurveyParticipation",
    "SurveyResponse",
    "Theme",
    "User",
    "Video",
    "VideoState",
    "WatchEvent",
    "WatchProgress",
    "WatchSession",
    "instructor_theme",
]
