"""Unit tests of ingest's reply extraction: `extract_reply` cuts quoted history and signatures.

The bodies imitate what each mail client sends; the HTML ones live in fixtures/replies.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ticketstream_ingest.replies import ExtractedReply, extract_reply

FIXTURES = Path(__file__).parent / "fixtures" / "replies"

NEW = "Thanks, the update fixed the login problem.\nBest regards, Bruno"
QUOTE = "> Hello Bruno,\n> \n> please install the update and try again.\n> Ana"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def uncut(body: str) -> ExtractedReply:
    return ExtractedReply(text=body.strip(), quoted="", signature="")


# --- reply headers followed by "> " quotes ---------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("On Tue, 3 Mar 2026 at 10:15, Ana Lima <ana@example.com> wrote:", id="gmail"),
        pytest.param("On 3 Mar 2026, at 10:15, Ana Lima <ana@example.com> wrote:", id="apple-mail"),
        pytest.param("On 03/03/2026 10:15, Ana Lima wrote:", id="thunderbird"),
        pytest.param("Ana Lima wrote on 03/03/2026 10:15:", id="thunderbird-name-first"),
        pytest.param("Am 03.03.2026 um 10:15 schrieb Ana Lima <ana@example.com>:", id="german"),
        pytest.param(
            "Am Di., 3. März 2026 um 10:15 Uhr schrieb Ana Lima <ana@example.com>:", id="german-gmail"
        ),
        pytest.param("Le mar. 3 mars 2026 à 10:15, Ana Lima <ana@example.com> a écrit :", id="french"),
        pytest.param(
            "Le mar. 3 mars 2026 à 10:15, Ana Lima <ana@example.com> a\u00a0écrit\u00a0:", id="french-nbsp"
        ),
        pytest.param("El mar, 3 mar 2026 a las 10:15, Ana Lima (<ana@example.com>) escribió:", id="spanish"),
        pytest.param(
            "Em ter., 3 de mar. de 2026 às 10:15, Ana Lima <ana@example.com> escreveu:", id="portuguese"
        ),
        pytest.param(
            "Il giorno mar 3 mar 2026 alle ore 10:15 Ana Lima <ana@example.com> ha scritto:", id="italian"
        ),
        pytest.param("Op di 3 mrt 2026 om 10:15 schreef Ana Lima <ana@example.com>:", id="dutch"),
        pytest.param("Den tis 3 mars 2026 kl 10:15 skrev Ana Lima <ana@example.com>:", id="swedish"),
        pytest.param("2026年3月3日(火) 10:15 Ana Lima <ana@example.com>:", id="japanese"),
        pytest.param("2026年3月3日(火) 10:15 Ana Lima <ana@example.com>\uff1a", id="japanese-fullwidth"),
        pytest.param("Ana Lima <ana@example.com> wrote:", id="undated-before-quote-marks"),
    ],
)
def test_reply_header_and_quote_marks_are_cut(header: str) -> None:
    body = f"{NEW}\n\n{header}\n{QUOTE}\n"
    assert extract_reply(body) == ExtractedReply(text=NEW, quoted=f"{header}\n{QUOTE}", signature="")


def test_gmail_header_wrapped_over_two_lines() -> None:
    header = "On Tue, 3 Mar 2026 at 10:15, Ana Lima from the Support Team <\nsupport-team@example.com> wrote:"
    body = f"{NEW}\n\n{header}\n\n{QUOTE}\n"
    assert extract_reply(body) == ExtractedReply(text=NEW, quoted=f"{header}\n\n{QUOTE}", signature="")


def test_gmail_header_wrapped_over_three_lines() -> None:
    header = "On Tue, 3 Mar 2026 at 10:15,\nAna Lima from the Support Team\n<support-team@example.com> wrote:"
    body = f"{NEW}\n\n{header}\n{QUOTE}"
    assert extract_reply(body) == ExtractedReply(text=NEW, quoted=f"{header}\n{QUOTE}", signature="")


def test_a_line_of_prose_above_a_wrapped_header_is_kept() -> None:
    header = "On Tue, 3 Mar 2026 at 10:15, Ana Lima <\nana@example.com> wrote:"
    body = f"On second thought, the error only happens on Mondays.\n{header}\n{QUOTE}"
    assert extract_reply(body) == ExtractedReply(
        text="On second thought, the error only happens on Mondays.",
        quoted=f"{header}\n{QUOTE}",
        signature="",
    )


def test_windows_line_endings() -> None:
    new = NEW.replace("\n", "\r\n")
    body = f"{new}\r\n\r\nOn 3 Mar 2026, at 10:15, Ana Lima <ana@example.com> wrote:\r\n> Hi\r\n"
    assert extract_reply(body) == ExtractedReply(
        text=new,
        quoted="On 3 Mar 2026, at 10:15, Ana Lima <ana@example.com> wrote:\r\n> Hi",
        signature="",
    )


def test_dated_header_without_quote_marks_cuts_the_rest() -> None:
    # An HTML mail rendered to text loses the "> " marks but keeps the header.
    body = f"{NEW}\n\nOn 03/03/2026 10:15, Ana Lima wrote:\nPlease install the update.\nAna"
    assert extract_reply(body) == ExtractedReply(
        text=NEW, quoted="On 03/03/2026 10:15, Ana Lima wrote:\nPlease install the update.\nAna", signature=""
    )


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            "On Monday our manager wrote:\n- the VPN is down\n- mail is slow", id="undated-on-wrote"
        ),
        pytest.param("Yesterday I wrote:\nthe VPN is down since Monday.", id="undated-name-first"),
        pytest.param("Please note what the installer wrote on the screen:\nerror 0x80070005", id="wrote-on"),
    ],
)
def test_prose_that_merely_looks_like_a_header_is_kept(body: str) -> None:
    assert extract_reply(body) == uncut(body)


def test_a_message_that_starts_with_quote_marks_only() -> None:
    body = f"\n{QUOTE}\n\n"
    assert extract_reply(body) == ExtractedReply(text="", quoted=QUOTE, signature="")


def test_a_message_that_is_only_quoted_history() -> None:
    body = f"On Tue, 3 Mar 2026 at 10:15, Ana Lima <ana@example.com> wrote:\n{QUOTE}"
    reply = extract_reply(body)
    assert reply == ExtractedReply(text="", quoted=body, signature="")
    assert reply.was_cut


def test_nested_quotes_belong_to_the_history() -> None:
    quote = (
        "On Tue, 3 Mar 2026 at 10:15, Ana Lima <ana@example.com> wrote:\n"
        "> Did the update help?\n>\n"
        "> On Mon, 2 Mar 2026 at 09:00, Bruno Costa <bruno@example.com> wrote:\n"
        ">> I cannot log in.\n"
    )
    assert extract_reply(f"{NEW}\n\n{quote}") == ExtractedReply(text=NEW, quoted=quote.strip(), signature="")


# --- inline and bottom replies: nothing is cut ----------------------------------------------


def test_interleaved_reply_is_kept_whole() -> None:
    body = (
        "See my answers below.\n\n"
        "On Tue, 3 Mar 2026 at 10:15, Ana Lima <ana@example.com> wrote:\n"
        "> Which browser do you use?\n"
        "Firefox 124.\n\n"
        "> Does it happen in a private window?\n"
        "Yes, there too.\n"
    )
    assert extract_reply(body) == uncut(body)


def test_bottom_posted_reply_is_kept_whole() -> None:
    body = f"{QUOTE}\n\nYes, it works now. Thank you!\n"
    assert extract_reply(body) == uncut(body)


def test_signature_below_the_quote_is_not_new_text() -> None:
    header = "On 03/03/2026 10:15, Ana Lima wrote:"
    body = f"{NEW}\n\n{header}\n{QUOTE}\n\n-- \nBruno Costa\nExample Corp\n"
    assert extract_reply(body) == ExtractedReply(
        text=NEW, quoted=f"{header}\n{QUOTE}", signature="-- \nBruno Costa\nExample Corp"
    )


def test_mobile_footer_below_the_quote_is_not_new_text() -> None:
    body = f"{NEW}\n\n{QUOTE}\n\nSent from my iPhone"
    assert extract_reply(body) == ExtractedReply(text=NEW, quoted=QUOTE, signature="Sent from my iPhone")


# --- Outlook header blocks ------------------------------------------------------------------


def test_outlook_desktop_separator_and_header_block() -> None:
    body = fixture("outlook_desktop_en.txt")
    reply = extract_reply(body)
    assert reply.text == (
        "Hi,\n\nthe shared mailbox for finance still does not show up in my Outlook.\n"
        "I restarted twice, same result.\n\nRegards\nSam Okafor\nFinance, Example Ltd\nT +44 20 7946 0000"
    )
    assert reply.quoted == body[body.index("____") :].strip()
    assert reply.signature == ""


@pytest.mark.parametrize(
    "block",
    [
        pytest.param(
            "From: Support <support@example.com>\nSent: Tuesday, March 3, 2026 10:15 AM\n"
            "To: Ana Lima <ana@example.com>\nSubject: RE: Login",
            id="english",
        ),
        pytest.param(
            "Von: Support <support@example.com>\nGesendet: Dienstag, 3. März 2026 10:15\n"
            "An: Ana Lima <ana@example.com>\nBetreff: AW: Anmeldung",
            id="german",
        ),
        pytest.param(
            "De : Support <support@example.com>\nEnvoyé : mardi 3 mars 2026 10:15\n"
            "À : Ana Lima <ana@example.com>\nObjet : RE: Connexion",
            id="french",
        ),
        pytest.param(
            "De: Support <support@example.com>\nEnviado: martes, 3 de marzo de 2026 10:15\n"
            "Para: Ana Lima <ana@example.com>\nAsunto: RE: Acceso",
            id="spanish",
        ),
        pytest.param(
            "Van: Support <support@example.com>\nVerzonden: dinsdag 3 maart 2026 10:15\n"
            "Aan: Ana Lima <ana@example.com>\nOnderwerp: RE: Inloggen",
            id="dutch",
        ),
        pytest.param(
            "De: Support <support@example.com>\nEnviado: terça-feira, 3 de março de 2026 10:15\n"
            "Para: Ana Lima <ana@example.com>\nAssunto: RE: Acesso",
            id="portuguese",
        ),
        pytest.param(
            "Da: Support <support@example.com>\nInviato: martedì 3 marzo 2026 10:15\n"
            "A: Ana Lima <ana@example.com>\nOggetto: R: Accesso",
            id="italian",
        ),
        pytest.param(
            "*From:* Support <support@example.com>\n*Sent:* Tuesday, March 3, 2026 10:15 AM\n"
            "*To:* Ana Lima <ana@example.com>\n*Cc:* Team <team@example.com>\n*Subject:* RE: Login",
            id="bold-labels",
        ),
    ],
)
def test_outlook_header_block_in_each_language(block: str) -> None:
    history = f"{block}\n\nPlease install the update.\n"
    separated = f"{NEW}\n\n________________________________\n{history}"
    assert extract_reply(separated) == ExtractedReply(
        text=NEW, quoted=f"________________________________\n{history.strip()}", signature=""
    )
    # Rendered from HTML, the separator is gone: the block alone starts the history.
    assert extract_reply(f"{NEW}\n\n{history}") == ExtractedReply(
        text=NEW, quoted=history.strip(), signature=""
    )


@pytest.mark.parametrize(
    "separator",
    [
        "-----Original Message-----",
        "-----Ursprüngliche Nachricht-----",
        "-----Message d'origine-----",
        "-----Mensaje original-----",
        "-----Oorspronkelijk bericht-----",
        "-----Mensagem original-----",
        "-----Messaggio originale-----",
    ],
)
def test_original_message_separator(separator: str) -> None:
    history = f"{separator}\nFrom: Support\nSent: 3/3/2026 10:15\nPlease install the update."
    assert extract_reply(f"{NEW}\n\n{history}") == ExtractedReply(text=NEW, quoted=history, signature="")


def test_outlook_web_header_on_one_line() -> None:
    history = (
        "From: Ana Lima <ana@example.com> Sent: Tuesday, March 3, 2026 10:15 AM "
        "To: Support <support@example.com> Subject: Login\nPlease install the update."
    )
    assert extract_reply(f"{NEW}\n\n{history}") == ExtractedReply(text=NEW, quoted=history, signature="")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("From: the billing page I get error 500.\nTo: reproduce, open any invoice.", id="from"),
        pytest.param("Steps\n________________________________\n1. open the app\n2. log in", id="underscores"),
        pytest.param(
            "From: Ana Lima <ana@example.com>\nTo: Support\nPlease add her to the team.", id="no-sent"
        ),
    ],
)
def test_text_that_merely_looks_like_outlook_headers_is_kept(body: str) -> None:
    assert extract_reply(body) == uncut(body)


# --- forwards are content ------------------------------------------------------------------


def test_gmail_forward_is_kept_with_its_own_history() -> None:
    body = fixture("gmail_forward.txt")
    assert extract_reply(body) == uncut(body)


@pytest.mark.parametrize(
    "marker",
    [
        "---------- Forwarded message ---------",
        "-------- Forwarded Message --------",
        "Begin forwarded message:",
        "---------- Weitergeleitete Nachricht ---------",
        "Début du message réexpédié :",
        "---------- Mensaje reenviado ---------",
    ],
)
def test_forwards_are_not_cut(marker: str) -> None:
    body = (
        f"Can you check this invoice?\n\nSent from my iPhone\n\n{marker}\n\n"
        "From: Billing <billing@vendor.example>\nSubject: Invoice 42\nDate: 3 March 2026 at 09:02:11 CET\n"
        "To: bruno@example.com\n\nPlease pay invoice 42.\n"
    )
    assert extract_reply(body) == uncut(body)


def test_a_reply_quoting_a_forward_is_cut() -> None:
    history = (
        "On Tue, 3 Mar 2026 at 10:15, Ana Lima <ana@example.com> wrote:\n"
        "> ---------- Forwarded message ---------\n> From: Billing <billing@vendor.example>\n"
    )
    assert extract_reply(f"{NEW}\n\n{history}") == ExtractedReply(
        text=NEW, quoted=history.strip(), signature=""
    )


# --- signatures -----------------------------------------------------------------------------


def test_rfc3676_signature_delimiter() -> None:
    body = "The export still fails.\n\n-- \nBruno Costa\nFacilities, Example Corp\n+351 21 000 0000\n"
    assert extract_reply(body) == ExtractedReply(
        text="The export still fails.",
        quoted="",
        signature="-- \nBruno Costa\nFacilities, Example Corp\n+351 21 000 0000",
    )


def test_signature_and_quote_together() -> None:
    header = "On Tue, 3 Mar 2026 at 10:15, Ana Lima <ana@example.com> wrote:"
    body = f"{NEW}\n\n-- \nBruno Costa\n\n{header}\n{QUOTE}"
    assert extract_reply(body) == ExtractedReply(
        text=NEW, quoted=f"{header}\n{QUOTE}", signature="-- \nBruno Costa"
    )


def test_bare_double_dash_takes_only_a_short_signature() -> None:
    assert extract_reply("It works.\n--\nBruno") == ExtractedReply(
        text="It works.", quoted="", signature="--\nBruno"
    )
    long_lines = "--\n" + "\n".join(f"Step {n}: " + "click the button and wait " * 4 for n in range(3))
    assert extract_reply(f"It fails.\n{long_lines}") == uncut(f"It fails.\n{long_lines}")


def test_text_far_below_a_delimiter_is_content() -> None:
    body = "Log follows.\n-- \n" + "\n".join(f"line {number} of the log" for number in range(16))
    assert extract_reply(body) == uncut(body)


def test_the_last_delimiter_starts_the_signature() -> None:
    body = "Option A\n-- \nOption B\n\n-- \nBruno"
    assert extract_reply(body) == ExtractedReply(
        text="Option A\n-- \nOption B", quoted="", signature="-- \nBruno"
    )


@pytest.mark.parametrize(
    "footer",
    [
        "Sent from my iPhone",
        "Sent from my Samsung Galaxy smartphone.",
        "Sent from Outlook for Android",
        "Get Outlook for iOS",
        "Sent from Yahoo Mail for iPhone",
        "Von meinem iPhone gesendet",
        "Gesendet von meinem iPad",
        "Envoyé de mon iPhone",
        "Enviado desde mi iPhone",
        "Enviado do meu iPhone",
        "Inviato da iPhone",
        "Verzonden vanaf mijn iPhone",
        "Skickat från min iPhone",
        "iPhoneから送信",
    ],
)
def test_mobile_footer_at_the_end(footer: str) -> None:
    assert extract_reply(f"{NEW}\n\n{footer}\n") == ExtractedReply(text=NEW, quoted="", signature=footer)


def test_mobile_footer_above_the_quote() -> None:
    header = "On 3 Mar 2026, at 10:15, Ana Lima <ana@example.com> wrote:"
    body = f"{NEW}\n\nSent from my iPhone\n\n{header}\n\n{QUOTE}"
    assert extract_reply(body) == ExtractedReply(
        text=NEW, quoted=f"{header}\n\n{QUOTE}", signature="Sent from my iPhone"
    )


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("Sent from my iPhone\n\nbut the app crashes when I open it.", id="not-last"),
        pytest.param("The form I sent from my iPhone never arrived.", id="mid-sentence"),
        pytest.param("Thanks.\nSent from my iPhone, the upload fails every time.", id="a-sentence"),
        pytest.param("The parcel was sent from Lisbon.\nSent from the warehouse", id="not-a-device"),
    ],
)
def test_the_word_sent_in_the_text_is_kept(body: str) -> None:
    assert extract_reply(body) == uncut(body)


# --- HTML quote containers ------------------------------------------------------------------

# What the parser passes as `text` for an HTML mail; the HTML decides.
PLAIN = "plain rendering of the message"


def test_gmail_html() -> None:
    assert extract_reply(PLAIN, html=fixture("gmail.html")) == ExtractedReply(
        text="Hi,\n\nthe printer in room 4 is still offline after the restart.\n\nThanks,\nBruno",
        quoted=(
            "On Tue, 3 Mar 2026 at 10:15, Ana Lima <ana@example.com> wrote:\nHello Bruno,\n\n"
            "please restart the printer and tell us whether it comes back.\n\nAna"
        ),
        signature="--\nBruno Costa\nFacilities, Example Corp",
    )


def test_outlook_web_html() -> None:
    assert extract_reply(PLAIN, html=fixture("outlook_web.html")) == ExtractedReply(
        text="Hello,\nthe invoice still shows our old address. Could you correct it?",
        quoted=(
            "From: Support <support@example.com>\nSent: Tuesday, March 3, 2026 10:15 AM\n"
            "To: Carla Diaz <carla@example.org>\nSubject: Re: Invoice address\n"
            "Hello Carla, we have updated the address on your account."
        ),
        signature="Carla Diaz\nAccounts payable, Example Org",
    )


def test_outlook_desktop_html_with_border_top_separator() -> None:
    assert extract_reply(PLAIN, html=fixture("outlook_desktop_de.html")) == ExtractedReply(
        text="Hallo Team,\ndas VPN bricht seit heute Morgen alle zehn Minuten ab.\nViele Grüße\nDieter",
        quoted=(
            "Von: Support <support@example.com>\nGesendet: Dienstag, 3. März 2026 10:15\n"
            "An: Dieter Braun <dieter@example.de>\nBetreff: AW: VPN\n"
            "Hallo Dieter, bitte starten Sie den Client neu."
        ),
        signature="",
    )


def test_apple_mail_html_with_header_above_the_blockquote() -> None:
    assert extract_reply(PLAIN, html=fixture("apple_mail.html")) == ExtractedReply(
        text="Yes, the order number is 55123.",
        quoted=(
            "On 3 Mar 2026, at 10:15, Ana Lima <ana@example.com> wrote:\n\n"
            "Could you send us the order number?\n\nAna"
        ),
        signature="Sent from my iPhone",
    )


def test_apple_mail_ios_html_with_header_inside_the_blockquote() -> None:
    html = (
        '<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8"></head>'
        '<body dir="auto">Here is the photo of the error.<div dir="ltr"><br></div><div dir="ltr">'
        '<br><blockquote type="cite">On 3 Mar 2026, at 10:15, Ana Lima &lt;ana@example.com&gt; wrote:'
        '<br><br></blockquote></div><blockquote type="cite"><div dir="ltr">Could you send us a photo?'
        "</div></blockquote></body></html>"
    )
    assert extract_reply(PLAIN, html=html) == ExtractedReply(
        text="Here is the photo of the error.",
        quoted="On 3 Mar 2026, at 10:15, Ana Lima <ana@example.com> wrote:\n\nCould you send us a photo?",
        signature="",
    )


def test_thunderbird_html() -> None:
    assert extract_reply(PLAIN, html=fixture("thunderbird.html")) == ExtractedReply(
        text="Hello,\nthe backup job failed again tonight; the log is attached.",
        quoted="On 03/03/2026 10:15, Ana Lima wrote:\nPlease send us the log of the last run.",
        signature="--\nErik Svensson\nIT, Example AB",
    )


def test_yahoo_html() -> None:
    assert extract_reply(PLAIN, html=fixture("yahoo.html")) == ExtractedReply(
        text="Hi, the tracking link gives a 404 error.\n\nMaria",
        quoted=(
            "On Tuesday, March 3, 2026 at 10:15:00 AM GMT, Support <support@example.com> wrote:\n\n"
            "Your parcel is on its way: follow the tracking link below."
        ),
        signature="",
    )


@pytest.mark.parametrize("name", ["gmail_inline.html", "thunderbird_bottom.html", "gmail_forward.html"])
def test_html_inline_bottom_replies_and_forwards_are_not_cut(name: str) -> None:
    assert extract_reply(f"  {PLAIN}\n", html=fixture(name)) == uncut(PLAIN)


def test_html_signature_below_the_quote() -> None:
    html = (
        '<div>It works now.</div><blockquote type="cite">Did the restart help?</blockquote>'
        '<div class="gmail_signature">Bruno Costa</div>'
    )
    assert extract_reply(PLAIN, html=html) == ExtractedReply(
        text="It works now.", quoted="Did the restart help?", signature="Bruno Costa"
    )


def test_html_that_is_only_a_quote() -> None:
    html = '<blockquote type="cite"><div>Did the restart help?</div></blockquote>'
    assert extract_reply(PLAIN, html=html) == ExtractedReply(
        text="", quoted="Did the restart help?", signature=""
    )


def test_html_without_a_container_falls_back_to_the_text() -> None:
    text = f"{NEW}\n\n{QUOTE}"
    html = "<div>Thanks, the update fixed the login problem.</div><blockquote>Hello Bruno</blockquote>"
    assert extract_reply(text, html=html) == ExtractedReply(text=NEW, quoted=QUOTE, signature="")


def test_a_border_top_without_a_header_block_is_no_separator() -> None:
    html = (
        '<div>The report is attached.</div><div style="border-top:1px solid #ccc">Bruno Costa | Example</div>'
        "<div>P.S. the old one had an error.</div>"
    )
    body = "The report is attached.\nBruno Costa | Example\nP.S. the old one had an error."
    assert extract_reply(body, html=html) == uncut(body)


@pytest.mark.parametrize(
    "html",
    ["<!", "<![if !supportLists]>", "<div class='gmail_quote'", "</blockquote></div>" * 300, "<p>" * 5000],
)
def test_broken_html_never_raises(html: str) -> None:
    assert extract_reply(NEW, html=html) == uncut(NEW)


# --- any input -------------------------------------------------------------------------------

MARKER_LINES = st.sampled_from(
    [
        "> quoted",
        ">",
        "-- ",
        "--",
        "",
        "Sent from my iPhone",
        "On Tue, 3 Mar 2026 at 10:15, Ana Lima <ana@example.com> wrote:",
        "On Tue, 3 Mar 2026 at 10:15, Ana <",
        "ana@example.com> wrote:",
        "From: Ana Lima <ana@example.com>",
        "Sent: Tuesday, March 3, 2026 10:15 AM",
        "Subject: Login",
        "________________________________",
        "-----Original Message-----",
        "---------- Forwarded message ---------",
        "2026年3月3日(火) 10:15 Ana Lima <ana@example.com>:",
    ]
)
BODIES = st.text() | st.lists(MARKER_LINES | st.text(max_size=30), max_size=25).map("\n".join)


def assert_nothing_invented(body: str, reply: ExtractedReply) -> None:
    for part in (reply.text, reply.quoted, reply.signature):
        assert part in body
        assert part == part.strip()
    assert set(reply.text + reply.quoted + reply.signature) <= set(body)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(BODIES)
@example("a\r-- \rb")
@example("\x85> q\u2028x")
def test_any_text_gives_slices_of_the_input(body: str) -> None:
    reply = extract_reply(body)
    assert_nothing_invented(body, reply)
    if not reply.was_cut:
        assert reply.text == body.strip()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(max_size=40),
    st.lists(
        st.sampled_from(
            [
                '<div class="gmail_quote">',
                '<blockquote type="cite">',
                "</blockquote>",
                "</div>",
                '<div id="appendonsend">',
                '<div style="border-top:solid">',
                "<b>From:</b> x<br>",
                '<div class="gmail_signature">',
                "<pre>",
                "<!--",
                "<!",
                "&amp;",
                "---------- Forwarded message ---------",
            ]
        )
        | st.text(max_size=20),
        max_size=30,
    ).map("".join),
)
def test_any_html_never_raises(text: str, html: str) -> None:
    reply = extract_reply(text, html=html)
    assert isinstance(reply.text, str)
    if not reply.was_cut:
        assert reply.text == text.strip()


def test_a_megabyte_body_is_cut_at_its_end() -> None:
    new = "\n".join(f"Line {number}: the sync stops halfway and shows no error." for number in range(20_000))
    body = f"{new}\n\nOn Tue, 3 Mar 2026 at 10:15, Ana Lima <ana@example.com> wrote:\n{QUOTE}"
    assert len(body) > 1_000_000
    reply = extract_reply(body)
    assert (reply.text, reply.signature) == (new, "")
    assert reply.quoted.endswith("> Ana")


def test_a_megabyte_line_is_text() -> None:
    body = "x" * 1_000_000 + " wrote:"
    assert extract_reply(f"{body}\n{QUOTE}") == ExtractedReply(text=body, quoted=QUOTE, signature="")
