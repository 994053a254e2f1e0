"""The localized line patterns that mark quoted history, forwards and signatures in email bodies.

Pure predicates on single stripped lines (or a few lines joined with spaces). Every pattern is
anchored with `fullmatch`/`match` and every repetition is bounded, and callers only pass text up to
`MAX_MARKER_LENGTH` characters, so the cost per line is bounded whatever the input.
"""

from __future__ import annotations

import re

# A reply header, separator or footer is never longer than this; longer lines are body text.
MAX_MARKER_LENGTH = 400

_FLAGS = re.IGNORECASE
FULLWIDTH_COLON = "\uff1a"  # Japanese clients end their reply header with it

# "On <date>, <name> wrote:" and its translations: they start with a fixed word and may be wrapped
# over several lines by the sending client.
_DATE_FIRST_ATTRIBUTIONS = (
    r"On\s.{1,300}?\s(?:wrote|writes)\s?:",
    r"Am\s.{1,300}?\sschrieb\s[^:]{1,200}:",
    r"Le\s.{1,300}?\sa\s[ée]crit\s?:",
    r"El\s.{1,300}?\sescribi[óo]\s?:",
    r"Em\s.{1,300}?\sescreveu\s?:",
    r"Il\s.{1,300}?\sha\sscritto\s?:",
    r"Op\s.{1,300}?\s(?:schreef\s[^:]{1,200}|het\svolgende\sgeschreven\s?):",
    r"Den\s.{1,300}?\sskrev\s[^:]{1,200}:",
    r"\d{4}年\d{1,2}月\d{1,2}日\D{0,10}\d{1,2}:\d{2}\s.{1,200}[:\uff1a]",
)
_DATE_FIRST = re.compile("|".join(f"(?:{pattern})" for pattern in _DATE_FIRST_ATTRIBUTIONS), _FLAGS)

# "Ana Lima wrote on 03/03/2026 10:15:" (Thunderbird) and the bare "Ana Lima wrote:"; these start
# with a name, so they are only recognised on one line.
_NAME_FIRST = re.compile(
    r"(?:.{1,200}?\s(?:wrote|writes)\s(?:on|at)\s.{1,100}:)"
    r"|(?:.{1,200}?\s(?:wrote|writes|schrieb|a\s[ée]crit|escribi[óo]|escreveu|ha\sscritto|schreef|skrev)\s?:)",
    _FLAGS,
)
_TIME = re.compile(r"\d{1,2}:\d{2}")
_YEAR = re.compile(r"\d{4}")

_FORWARD_MARKERS = re.compile(
    r"(?:-{2,20}\s?(?:Forwarded message|Weitergeleitete Nachricht|Message transf[ée]r[ée]|Mensaje reenviado"
    r"|Mensagem encaminhada|Messaggio inoltrato|Doorgestuurd bericht|Vidarebefordrat meddelande"
    r"|転送されたメッセージ)\s?-{2,20})"
    r"|(?:(?:Begin forwarded message|Anfang der weitergeleiteten Nachricht"
    r"|D[ée]but du message r[ée]exp[ée]di[ée]|D[ée]but du message transf[ée]r[ée]"
    r"|Inicio del mensaje reenviado|In[íi]cio da mensagem reencaminhada"
    r"|In[íi]cio da mensagem encaminhada|Inizio messaggio inoltrato|Begin doorgestuurd bericht"
    r"|Vidarebefordrat mejl)\s?:)",
    _FLAGS,
)
_ORIGINAL_MESSAGE = re.compile(
    r"-{2,20}\s?(?:Original Message|Ursprüngliche Nachricht|Originalnachricht|Message d['\u2019]origine"
    r"|Mensaje original|Oorspronkelijk bericht|Mensagem original|Messaggio originale|Originalmeddelande"
    r"|元のメッセージ)\s?-{2,20}",
    _FLAGS,
)
_UNDERSCORES = re.compile(r"_{8,200}")

# Outlook's header block of the message replied to, by field kind, in the supported languages.
_HEADER_LABELS = {
    "from": r"From|Von|De|Van|Da|Från|差出人",
    "sent": (
        r"Sent|Date|Gesendet|Datum|Envoy[ée]|Enviado|Enviada|Fecha|Verzonden|Inviato|Data|Skickat"
        r"|送信日時|日付"
    ),
    "to": r"To|An|À|A|Para|Aan|Till|宛先",
    "cc": r"Cc|Kopie",
    "subject": r"Subject|Betreff|Objet|Asunto|Onderwerp|Assunto|Oggetto|Ämne|件名",
}
_LABEL_GROUPS = "|".join(f"(?P<{kind}>{words})" for kind, words in _HEADER_LABELS.items())
# Bold labels come out of HTML renderings as "*From:*"; French puts a space before the colon.
_LEADING_LABEL = re.compile(rf"\*?(?:{_LABEL_GROUPS})\s?[:\uff1a]\*?(?:\s|$)", _FLAGS)
_ANY_LABEL = re.compile(rf"(?:^|(?<=\s))\*?(?:{_LABEL_GROUPS})\s?[:\uff1a]\*?(?=\s|$)", _FLAGS)

_POSSESSIVE = r"(?:my|mon|ma|mi|meu|mio|il mio|mijn|min|meinem|meiner)"
_DEVICE = (
    r"(?:i(?:Phone|Pad)|Android|Samsung|Galaxy|Huawei|Xiaomi|Pixel|BlackBerry|Outlook|Mail|Yahoo|Gmail"
    r"|Proton ?Mail|Spark|AOL|Windows|Mobile|Smartphone|Tablet)"
)
# The device or app name after "Sent from my": words, no sentence punctuation, so a sentence that
# happens to start with "Sent from my phone, ..." is never taken for a footer.
_DEVICE_TAIL = r"[^.,;:!?]{1,40}\.?"
_FROM_DEVICE = rf"(?:{_POSSESSIVE} {_DEVICE_TAIL}|{_DEVICE}\b[^.,;:!?]{{0,40}}\.?)"
_MOBILE_FOOTERS = re.compile(
    "|".join(
        f"(?:{pattern})"
        for pattern in (
            rf"Sent (?:from|with|via|using) {_FROM_DEVICE}",
            r"Get Outlook for (?:iOS|Android|Mac|Windows)\.?",
            rf"Von {_POSSESSIVE} {_DEVICE_TAIL} gesendet\.?",
            rf"Gesendet (?:von|mit|vom) {_FROM_DEVICE}",
            r"Outlook für (?:iOS|Android) (?:herunterladen|beziehen)",
            r"Holen Sie sich Outlook für (?:iOS|Android)",
            rf"Envoy[ée] (?:de|depuis|avec) {_FROM_DEVICE}",
            r"(?:Obtenir|T[ée]l[ée]charger) Outlook pour (?:iOS|Android)",
            rf"Enviado (?:desde|con|do|pelo|de) {_FROM_DEVICE}",
            r"(?:Obtener|Obter o|Baixe o) Outlook para (?:iOS|Android)",
            rf"Inviato (?:da|dal|con) {_FROM_DEVICE}",
            r"Scarica Outlook per (?:iOS|Android)",
            rf"(?:Verzonden|Verstuurd) (?:vanaf|met|via) {_FROM_DEVICE}",
            r"Outlook voor (?:iOS|Android) downloaden",
            rf"Skickat från {_FROM_DEVICE}",
            r"Hämta Outlook för (?:iOS|Android)",
            r"\S{1,30}から送信",
        )
    ),
    _FLAGS,
)


def is_quoted(line: str) -> bool:
    """A line of quoted history in the "> " style (the line is already stripped)."""
    return line.startswith(">")


def is_attribution(window: str, *, wrapped: bool) -> bool:
    """The text looks like a reply header ("On <date>, <name> wrote:" or a translation).

    `wrapped` says the window joins several lines; then only headers that start with their fixed
    word are recognised, so a line of prose above a header is never taken as its start.
    """
    if len(window) > MAX_MARKER_LENGTH or not window.endswith((":", FULLWIDTH_COLON)):
        return False
    if _DATE_FIRST.fullmatch(window):
        return True
    return not wrapped and _NAME_FIRST.fullmatch(window) is not None


def looks_dated(window: str) -> bool:
    """The header names a time, or an address and a year: what real reply headers always carry."""
    return _TIME.search(window) is not None or ("@" in window and _YEAR.search(window) is not None)


def is_forward_marker(line: str) -> bool:
    """A line that introduces a forwarded message ("---------- Forwarded message ---------")."""
    return len(line) <= MAX_MARKER_LENGTH and _FORWARD_MARKERS.fullmatch(line) is not None


def is_original_message_separator(line: str) -> bool:
    """Outlook's "-----Original Message-----" line, in the supported languages."""
    return len(line) <= MAX_MARKER_LENGTH and _ORIGINAL_MESSAGE.fullmatch(line) is not None


def is_underscore_separator(line: str) -> bool:
    """A line of underscores, which Outlook puts above the header block of the quoted message."""
    return _UNDERSCORES.fullmatch(line) is not None


def leading_header_label(line: str) -> str | None:
    """The kind of Outlook header field ("from", "sent", "to", "cc", "subject") the line starts with."""
    match = _LEADING_LABEL.match(line[:MAX_MARKER_LENGTH])
    return match.lastgroup if match else None


def header_labels(line: str) -> set[str]:
    """Every kind of header field label found anywhere in the line (Outlook web puts all on one)."""
    return {match.lastgroup for match in _ANY_LABEL.finditer(line[:MAX_MARKER_LENGTH]) if match.lastgroup}


def is_signature_delimiter(raw_line: str) -> bool:
    """The RFC 3676 delimiter "-- " (the line as sent, trailing space included)."""
    return raw_line in ("-- ", "--\u00a0")


def is_bare_signature_delimiter(line: str) -> bool:
    """A "--" line: the RFC 3676 delimiter after a client stripped its trailing space."""
    return line == "--"


def is_mobile_footer(line: str) -> bool:
    """A mobile client's footer such as "Sent from my iPhone" or "Get Outlook for iOS"."""
    return len(line) <= 100 and _MOBILE_FOOTERS.fullmatch(line) is not None
