"""Opt-out / opt-in / help keywords: whole-text matching, per language, after normalisation."""

from __future__ import annotations

import pytest

from gateway.domain.keywords import (
    DEFAULT_REPLIES,
    KeywordAction,
    default_reply,
    match_keyword,
    normalize_keyword,
)

STOP, START, HELP = KeywordAction.STOP, KeywordAction.START, KeywordAction.HELP


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("STOP", STOP),
        ("stop", STOP),
        ("  Stop!  ", STOP),
        ("STOPALL", STOP),
        ("stop all", STOP),
        ("Unsubscribe.", STOP),
        ("cancel", STOP),
        ("END", STOP),
        ("quit", STOP),
        ("START", START),
        ("unstop", START),
        ("Yes", START),
        ("HELP", HELP),
        ("info?", HELP),
    ],
)
def test_english_keywords(text: str, action: KeywordAction) -> None:
    match = match_keyword(text)
    assert match is not None and match.action is action and match.language == "en"


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("توقف", STOP),
        ("ايقاف", STOP),
        ("إيقاف", STOP),
        ("إلغاء", STOP),
        ("الغاء", STOP),  # typed without hamza
        ("الغا", STOP),  # and without the final hamza
        ("إلغاء الاشتراك", STOP),
        ("تَوَقَّفْ", STOP),  # with harakat
        ("تـوقـف", STOP),  # with tatweel
        ("ابدأ", START),
        ("ابدا", START),
        ("اشتراك", START),
        ("مساعدة", HELP),
        ("مساعده", HELP),  # teh marbuta typed as heh
    ],
)
def test_arabic_keywords_fold_letter_variants(text: str, action: KeywordAction) -> None:
    match = match_keyword(text)
    assert match is not None and match.action is action and match.language == "ar"


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("ARRET", STOP),
        ("Arrêt", STOP),
        ("arrêt.", STOP),
        ("DESABONNER", STOP),
        ("désabonner", STOP),
        ("ABONNER", START),
        ("aide", HELP),
    ],
)
def test_french_keywords(text: str, action: KeywordAction) -> None:
    match = match_keyword(text)
    assert match is not None and match.action is action and match.language == "fr"


@pytest.mark.parametrize(
    ("text", "action"),
    [("BAJA", STOP), ("parar", STOP), ("¡Baja!", STOP), ("ALTA", START), ("ayuda", HELP)],
)
def test_spanish_keywords(text: str, action: KeywordAction) -> None:
    match = match_keyword(text)
    assert match is not None and match.action is action and match.language == "es"


@pytest.mark.parametrize(
    ("text", "action"),
    [("STOPP", STOP), ("Abmelden", STOP), ("ANMELDEN", START), ("hilfe", HELP)],
)
def test_german_keywords(text: str, action: KeywordAction) -> None:
    match = match_keyword(text)
    assert match is not None and match.action is action and match.language == "de"


@pytest.mark.parametrize(
    "text",
    [
        "STOP please",
        "please stop",
        "don't stop",
        "stopper",
        "",
        "   ",
        "!!!",
        "توقف عن الإرسال الآن",
        "STOP " * 100,
    ],
)
def test_text_that_only_contains_a_keyword_is_not_one(text: str) -> None:
    assert match_keyword(text) is None


def test_normalisation_folds_case_accents_punctuation_and_spaces() -> None:
    assert normalize_keyword("  «Arrêt»\u00a0 ") == "arret"
    assert normalize_keyword("STOP\tALL") == "stop all"
    assert normalize_keyword("إلغاء") == normalize_keyword("الغاء")


def test_default_replies_exist_for_every_action_and_language() -> None:
    for action, replies in DEFAULT_REPLIES.items():
        assert set(replies) == {"en", "ar", "fr", "es", "de"}, action
    match = match_keyword("توقف")
    assert match is not None
    assert default_reply(match) == DEFAULT_REPLIES[STOP]["ar"]
