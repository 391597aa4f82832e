"""Generated labels in the reader's language; stored text stays Korean."""

from __future__ import annotations

import pytest
from flask import session as flask_session

from courses import labels


@pytest.mark.parametrize(
    ("call", "korean", "english"),
    [
        (lambda: labels.class_label(5, "1반"), "5학년 1반", "Grade 5 Class 1"),
        (lambda: labels.class_label(5, " 12 반 "), "5학년 12반", "Grade 5 Class 12"),
        (lambda: labels.class_label(3, "햇살반"), "3학년 햇살반", "Grade 3 햇살반"),
        (lambda: labels.class_label(None, "1반"), "1반", "Class 1"),
        (lambda: labels.grade_label(6), "6학년", "Grade 6"),
        (lambda: labels.lesson_title("3차시"), "3차시", "Lesson 3"),
        (lambda: labels.lesson_title("우리 동네 안전 지도"), "우리 동네 안전 지도", "우리 동네 안전 지도"),
        (lambda: labels.lesson_title(""), "", ""),
        (lambda: labels.theme_name("안전·건강", "Safety and health"), "안전·건강", "Safety and health"),
        (lambda: labels.theme_name("독도", ""), "독도", "독도"),
    ],
)
def test_a_label_reads_in_the_readers_language(app, call, korean, english) -> None:  # type: ignore[no-untyped-def]
    for lang, want in (("ko", korean), ("en", english)):
        with app.test_request_context("/"):
            flask_session["lang"] = lang
            assert call() == want, lang


def test_stored_text_is_korean_whatever_the_readers_language(app) -> None:  # type: ignore[no-untyped-def]
    with app.test_request_context("/"):
        flask_session["lang"] = "en"
        assert labels.class_label(5, "1반") == "Grade 5 Class 1"
        assert labels.class_label(5, "1반", stored=True) == "5학년 1반"
        assert labels.grade_label(5, stored=True) == "5학년"


def test_outside_a_request_labels_are_korean(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        assert labels.class_label(5, "1반") == "5학년 1반"
        assert labels.theme_name("안전·건강", "Safety and health") == "안전·건강"
