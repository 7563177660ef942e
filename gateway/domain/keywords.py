"""Opt-out, opt-in and help keywords in inbound (MO) messages. Pure: no I/O.

A message is a keyword only when its whole text is one (after normalisation), as carriers and
CTIA guidance treat it: "STOP" unsubscribes, "please stop calling me at 5" does not. Normalising
folds case, diacritics (ARRÊT = ARRET), surrounding whitespace and punctuation ("Stop!"), and the
Arabic spellings handsets produce for one word: hamza forms of alef (إلغاء = الغاء), alef
maksura and yeh, teh marbuta and heh, tatweel and harakat.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class KeywordAction(StrEnum):
    STOP = "stop"  # add the sender to the account's suppression list
    START = "start"  # remove it again
    HELP = "help"  # answer with the account's help text


@dataclass(frozen=True, slots=True)
class KeywordMatch:
    action: KeywordAction
    language: str  # ISO 639-1 of the matched word: the default reply is in that language
    keyword: str  # the normalised word that matched


# Arabic letters that handsets and keyboards use interchangeably for the same word. Hamza forms
# of alef also lose their hamza through NFKD below; these are the ones that do not decompose.
_ARABIC_FOLD = str.maketrans(
    {
        "\u0649": "\u064a",  # alef maksura -> yeh
        "\u06cc": "\u064a",  # Farsi yeh -> yeh
        "\u0626": "\u064a",  # yeh with hamza -> yeh
        "\u0629": "\u0647",  # teh marbuta -> heh
        "\u06a9": "\u0643",  # keheh -> kaf
        "\u0624": "\u0648",  # waw with hamza -> waw
        "\u0671": "\u0627",  # alef wasla -> alef
        "\u0640": None,  # tatweel (kashida) is only stretching
        "\u0621": None,  # a lone hamza is often dropped in typing (إلغاء / الغا)
    }
)


def normalize_keyword(text: str) -> str:
    """Fold `text` to the form keywords are stored in (see the module docstring)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    # Drop combining marks (accents, Arabic harakat and hamza above/below) and fold letters.
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    folded = letters.translate(_ARABIC_FOLD)
    # Punctuation and symbols become spaces (".STOP.", "stop!!", "«arrêt»"), then whitespace is
    # collapsed, so "stop all" and " STOP ALL " are one form.
    cleaned = "".join(
        " " if unicodedata.category(c)[0] in "PSZC" and not c.isspace() else c for c in folded
    )
    return " ".join(cleaned.split())


# Each keyword as written by users; normalised once at import.
_KEYWORDS: dict[KeywordAction, dict[str, tuple[str, ...]]] = {
    KeywordAction.STOP: {
        "en": ("STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT"),
        "ar": ("توقف", "ايقاف", "إيقاف", "إلغاء", "الغاء الاشتراك", "إلغاء الاشتراك", "قف"),
        "fr": ("ARRET", "ARRÊT", "DESABONNER", "DÉSABONNER", "DESINSCRIRE", "STOP SMS"),
        "es": ("BAJA", "PARAR", "CANCELAR", "DETENER"),
        "de": ("STOPP", "ABMELDEN", "ABBESTELLEN"),
    },
    KeywordAction.START: {
        "en": ("START", "UNSTOP", "YES", "SUBSCRIBE"),
        "ar": ("ابدأ", "اشتراك", "تفعيل"),
        "fr": ("ABONNER", "REPRENDRE"),
        "es": ("ALTA", "REANUDAR"),
        "de": ("ANMELDEN", "STARTEN"),
    },
    KeywordAction.HELP: {
        "en": ("HELP", "INFO"),
        "ar": ("مساعدة", "معلومات"),
        "fr": ("AIDE",),
        "es": ("AYUDA",),
        "de": ("HILFE",),
    },
}

KEYWORDS: dict[str, KeywordMatch] = {}
for _action, _languages in _KEYWORDS.items():
    for _language, _words in _languages.items():
        for _word in _words:
            _form = normalize_keyword(_word)
            # The first spelling wins: STOP and INFO are English before they are French.
            KEYWORDS.setdefault(_form, KeywordMatch(_action, _language, _form))

# No keyword is longer than this once normalised: a long MO is never scanned further.
_MAX_KEYWORD = max(len(k) for k in KEYWORDS) + 8


def match_keyword(text: str) -> KeywordMatch | None:
    """The keyword that `text` is in full, or None."""
    if len(text) > 4 * _MAX_KEYWORD:
        return None
    return KEYWORDS.get(normalize_keyword(text))


# Replies sent when the account has not configured its own, in the keyword's language.
DEFAULT_REPLIES: dict[KeywordAction, dict[str, str]] = {
    KeywordAction.STOP: {
        "en": "You have been unsubscribed and will receive no more messages. Reply START to "
        "resubscribe.",
        "ar": "تم إلغاء اشتراكك ولن تصلك رسائل أخرى. أرسل ابدأ لإعادة الاشتراك.",
        "fr": "Vous êtes désabonné et ne recevrez plus de messages. Répondez ABONNER pour vous "
        "réabonner.",
        "es": "Se ha dado de baja y no recibirá más mensajes. Responda ALTA para volver a "
        "suscribirse.",
        "de": "Sie wurden abgemeldet und erhalten keine Nachrichten mehr. Antworten Sie "
        "ANMELDEN, um sich wieder anzumelden.",
    },
    KeywordAction.START: {
        "en": "You have been resubscribed. Reply STOP to unsubscribe.",
        "ar": "تم تفعيل اشتراكك. أرسل توقف لإلغاء الاشتراك.",
        "fr": "Vous êtes réabonné. Répondez ARRET pour vous désabonner.",
        "es": "Se ha vuelto a suscribir. Responda BAJA para darse de baja.",
        "de": "Sie sind wieder angemeldet. Antworten Sie STOPP, um sich abzumelden.",
    },
    KeywordAction.HELP: {
        "en": "Reply STOP to unsubscribe or START to resubscribe.",
        "ar": "أرسل توقف لإلغاء الاشتراك أو ابدأ لإعادة الاشتراك.",
        "fr": "Répondez ARRET pour vous désabonner ou ABONNER pour vous réabonner.",
        "es": "Responda BAJA para darse de baja o ALTA para volver a suscribirse.",
        "de": "Antworten Sie STOPP zum Abmelden oder ANMELDEN zum Anmelden.",
    },
}


def default_reply(match: KeywordMatch) -> str:
    replies = DEFAULT_REPLIES[match.action]
    return replies.get(match.language, replies["en"])
