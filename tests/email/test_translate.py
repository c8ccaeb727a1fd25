"""Table tests of the pure parts: mail → event, delivery → mail, defence and threading."""

from __future__ import annotations

import base64
import quopri
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from adapters.email.imap import parse_fetch, parse_search
from adapters.email.render import MailParts, neutralise, render_mail
from adapters.email.threads import ThreadBook
from adapters.email.translate import Dropped, Inbound, ParseContext, parse_mail
from adapters.settings import EmailListSettings

LIST = "khub@lists.example"
ME = "bridge@bot.example"


def ctx(**settings: object) -> ParseContext:
    chosen = EmailListSettings.model_validate(settings)
    return ParseContext(ME, "bot.example", frozenset({LIST}), lambda _: chosen, 1000)


def raw(
    body: str, *, headers: str = "", ctype: str = "text/plain; charset=utf-8", cte: str = ""
) -> bytes:
    head = (
        "From: Bob Jones <bob@people.example>\r\n"
        f"To: {LIST}\r\nSubject: Re: [khub] Budget\r\n"
        "Message-ID: <m1@people.example>\r\nDate: Tue, 03 Jun 2025 10:00:00 +0000\r\n"
        f"List-Post: <mailto:{LIST}>\r\nMIME-Version: 1.0\r\n"
        f"In-Reply-To: <p@x>\r\nReferences: <root@x> <p@x>\r\n{headers}"
        f"Content-Type: {ctype}\r\n"
    )
    if cte:
        head += f"Content-Transfer-Encoding: {cte}\r\n"
    head += "\r\n"
    return (head + body).encode("latin-1" if "8bit-latin" in headers else "utf-8")


def alternative(plain: str, html: str) -> bytes:
    return raw(
        "--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{plain}\r\n--B\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n--B--\r\n",
        ctype='multipart/alternative; boundary="B"',
    )


OUTLOOK = alternative(
    "Yes, the figures are final.\r\n\r\nKind regards\r\nJane Smith\r\nFinance Officer\r\n\r\n"
    "________________________________\r\nFrom: Bob Jones <bob@people.example>\r\n"
    "Sent: Monday, June 2, 2025 9:00 AM\r\nTo: khub@lists.example\r\nSubject: Budget\r\n\r\n"
    "Are the figures final?\r\n",
    "<html><body><p>Yes, the figures are final.</p><div id=divRplyFwdMsg><b>From:</b> Bob"
    "</div><p>Are the figures final?</p></body></html>",
)
GMAIL = alternative(
    "Yes, the figures are final.\r\n\r\nOn Mon, 2 Jun 2025 at 09:00, Bob Jones <"
    "bob@people.example> wrote:\r\n\r\n> Are the figures final?\r\n>\r\n",
    '<div dir="ltr">Yes, the figures are final.</div><br><div class="gmail_quote">'
    "<div>On Mon wrote:</div><blockquote>Are the figures final?</blockquote></div>",
)
APPLE = raw(
    "Yes, the figures are final.\r\n\r\nSent from my iPhone\r\n\r\n> On 2 Jun 2025, at 09:00, "
    "Bob Jones <bob@people.example> wrote:\r\n> \r\n> Are the figures final?\r\n"
)
PLAIN_SIG = raw("Yes, the figures are final.\r\n\r\n-- \r\nJane Smith\r\n+44 20 7946 0000\r\n")
HTML_ONLY = raw(
    "<html><head><style>p{color:red}</style></head><body><p>Yes, the figures are "
    "<b>final</b>.</p><p>Second&nbsp;paragraph</p><script>alert(1)</script>"
    "<blockquote>Are the figures final?</blockquote></body></html>",
    ctype="text/html; charset=utf-8",
)
LATIN1_QP = raw(
    quopri.encodestring("Grüße, die Zahlen sind endgültig.".encode("latin-1")).decode(),
    ctype="text/plain; charset=iso-8859-1",
    cte="quoted-printable",
)
KOI8_B64 = raw(
    base64.b64encode("Цифры окончательные.".encode("koi8-r")).decode(),
    ctype="text/plain; charset=koi8-r",
    cte="base64",
)
SJIS_B64 = raw(
    base64.b64encode("数字は確定です。".encode("shift_jis")).decode(),
    ctype="text/plain; charset=shift_jis",
    cte="base64",
)
WIN1252_8BIT = raw(
    "The \x93final\x94 figures \x96 agreed.",
    headers="X-Note: 8bit-latin\r\n",
    ctype="text/plain; charset=windows-1252",
    cte="8bit",
)


@pytest.mark.parametrize(
    ("mail", "text"),
    [
        (OUTLOOK, "Yes, the figures are final."),
        (GMAIL, "Yes, the figures are final."),
        (APPLE, "Yes, the figures are final."),
        (PLAIN_SIG, "Yes, the figures are final."),
        (HTML_ONLY, "Yes, the figures are final.\n\nSecond paragraph"),
        (LATIN1_QP, "Grüße, die Zahlen sind endgültig."),
        (KOI8_B64, "Цифры окончательные."),
        (SJIS_B64, "数字は確定です。"),
        (WIN1252_8BIT, "The “final” figures – agreed."),
    ],
    ids=["outlook", "gmail", "apple", "plain-sig", "html-only", "latin1", "koi8", "sjis", "1252"],
)
def test_bodies_lose_quotes_and_signatures(mail: bytes, text: str) -> None:
    parsed = parse_mail(mail, ctx())
    assert isinstance(parsed, Inbound), parsed
    assert parsed.text == text
    assert (parsed.thread, parsed.reply_to) == ("<root@x>", "<p@x>")
    assert parsed.author.display_name == "Bob Jones"
    assert parsed.ts == 1748944800.0


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ("Auto-Submitted: auto-replied\r\n", "Auto-Submitted"),
        ("Precedence: junk\r\n", "Precedence"),
        ("X-Autoreply: yes\r\n", "X-Autoreply"),
        ("X-Bridgebot-Origin: slack.work:C1\r\n", "marker"),
        (f"X-Loop: {ME}\r\n", "X-Loop"),
        ("Return-Path: <>\r\n", "bounce"),
    ],
)
def test_automatic_and_looping_mail_is_dropped(headers: str, reason: str) -> None:
    parsed = parse_mail(raw("hello", headers=headers), ctx())
    assert isinstance(parsed, Dropped) and reason in parsed.reason


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("Subject: Re: [khub] Budget", "Subject: Automatic reply: Budget"),
        ("Subject: Re: [khub] Budget", "Subject: Out of Office: back Monday"),
        ("Subject: Re: [khub] Budget", "Subject: Abwesenheitsnotiz"),
        ("From: Bob Jones <bob@people.example>", "From: Mail Delivery <MAILER-DAEMON@mx.x>"),
        ("From: Bob Jones <bob@people.example>", f"From: Alice via slack <{ME}>"),
        ("Message-ID: <m1@people.example>", "Message-ID: <bridgebot.abc@bot.example>"),
        ("To: khub@lists.example", "To: other@lists.example"),
        ("text/plain; charset=utf-8", 'multipart/report; report-type=delivery-status; b="x"'),
    ],
)
def test_more_mail_that_is_dropped(old: str, new: str) -> None:
    mail = raw("hello").decode().replace(old, new)
    if "To: other" in new:
        mail = mail.replace(f"<mailto:{LIST}>", "<mailto:other@lists.example>")
    assert isinstance(parse_mail(mail.encode(), ctx()), Dropped)


def test_auto_submitted_no_is_a_person() -> None:
    assert isinstance(parse_mail(raw("hi", headers="Auto-Submitted: no\r\n"), ctx()), Inbound)


@pytest.mark.parametrize(
    ("senders", "sender", "via_list", "ok"),
    [
        ("list-members", "bob@people.example", True, True),
        ("list-members", "bob@people.example", False, False),
        ("anyone", "eve@spam.example", False, True),
        (["bob@people.example"], "bob@people.example", False, True),
        (["@people.example"], "carol@people.example", False, True),
        (["@people.example"], "eve@spam.example", True, False),
    ],
)
def test_senders_policy(senders: object, sender: str, via_list: bool, ok: bool) -> None:
    mail = raw("hi").decode().replace("bob@people.example", sender)
    if not via_list:
        mail = mail.replace(f"List-Post: <mailto:{LIST}>\r\n", "")
    assert isinstance(parse_mail(mail.encode(), ctx(senders=senders)), Inbound) is ok


@pytest.mark.parametrize(
    ("results", "required", "ok"),
    [
        ("mx.bot.example; dkim=pass header.d=people.example; spf=fail", "dkim", True),
        ("mx.bot.example; dkim=fail; spf=pass smtp.mailfrom=people.example", "dkim", False),
        ("mx.bot.example; dkim=fail; spf=pass smtp.mailfrom=people.example", "dkim-or-spf", True),
        ("evil.example; dkim=pass", "dkim", False),  # not our receiving server
        ("", "spf", False),
    ],
)
def test_require_auth(results: str, required: str, ok: bool) -> None:
    headers = f"Authentication-Results: {results}\r\n" if results else ""
    context = ctx(require_auth=required)
    context = ParseContext(
        ME, "bot.example", frozenset({LIST}), context.list_settings, 1000, "mx.bot.example"
    )
    assert isinstance(parse_mail(raw("hi", headers=headers), context), Inbound) is ok


def test_new_thread_without_message_id_and_garbage() -> None:
    mail = raw("Body").decode()
    mail = mail.replace("Message-ID: <m1@people.example>\r\n", "")
    mail = mail.replace("In-Reply-To: <p@x>\r\nReferences: <root@x> <p@x>\r\n", "")
    mail = mail.replace("Subject: Re: [khub] Budget", "Subject: Fwd: New idea")
    first, second = parse_mail(mail.encode(), ctx()), parse_mail(mail.encode(), ctx())
    assert isinstance(first, Inbound) and isinstance(second, Inbound)
    assert first.message_id == second.message_id  # duplicates stay recognisable
    assert (first.thread, first.reply_to, first.text) == (None, None, "New idea\n\nBody")
    for junk in (b"", b"\xff\x00\xfe" * 50, b"From: \r\n\r\n"):
        assert isinstance(parse_mail(junk, ctx()), Dropped)


def _render(sender: str, subject: str, text: str) -> EmailMessage:
    parts = MailParts(
        ME,
        LIST,
        "<bridgebot.1@bot.example>",
        subject,
        "<p@x>",
        ("<r@x>", "<p@x>"),
        "slack.work:C1",
    )
    out = render_mail(parts, sender, text)
    parsed = message_from_bytes(out.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


@pytest.mark.parametrize(
    "hostile",
    [
        "Eve\r\nBcc: victim@example.org",
        "Eve\nTo: victim@example.org",
        'Eve" <evil@example.org>, "x',
        "Zoë \u2028 Ångström\x00\x1b[31m",
        "=?utf-8?q?Bcc=3A_x=40y?=",
        "x" * 500,
    ],
)
def test_hostile_names_and_subjects_make_valid_headers(hostile: str) -> None:
    mail = _render(hostile, hostile, "body")
    assert mail["Bcc"] is None and not mail.defects
    assert [a.addr_spec for a in mail["From"].addresses] == [ME]
    assert [a.addr_spec for a in mail["To"].addresses] == [LIST]
    assert "\n" not in mail["From"].addresses[0].display_name
    assert "\n" not in str(mail["Subject"]) and len(str(mail["Subject"])) <= 120
    assert str(mail["References"]) == "<r@x> <p@x>"


def test_body_cannot_pose_as_a_list_command_or_cut_at_a_signature() -> None:
    assert neutralise("unsubscribe\nme") == "\u200bunsubscribe\nme"
    assert neutralise("a\n-- \nb") == "a\n\u2010\u2010\nb"
    html = _render("A", "S", "<script>alert(1)</script> & more").get_body(("html",))
    assert html is not None
    assert "<script>" not in html.get_content()
    assert "&lt;script&gt;" in html.get_content()


def test_thread_book_builds_a_chain_and_falls_back_without_memory() -> None:
    book = ThreadBook()
    book.record("<1>", "[khub] Start", ())
    first = book.plan("<1>", None)
    assert (first.in_reply_to, first.references, first.root_subject) == (
        "<1>",
        ("<1>",),
        "[khub] Start",
    )
    book.record("<2>", "Re: [khub] Start", first.references)
    second = book.plan("<1>", None)
    assert (second.in_reply_to, second.references) == ("<2>", ("<1>", "<2>"))
    unknown = ThreadBook().plan("<root>", "<parent>")
    assert (unknown.in_reply_to, unknown.references) == ("<parent>", ("<root>", "<parent>"))
    assert ThreadBook().plan(None, None).references == ()


def test_imap_responses_as_aioimaplib_hands_them_over() -> None:
    assert parse_search([b"3 4 9", b"Search completed (0.001 + 0.000 secs)."]) == [3, 4, 9]
    assert parse_search([b"SEARCH 7", b""]) == [7]
    assert parse_search([b"", b"Search completed."]) == []
    lines: list[bytes | bytearray] = [
        b"2 FETCH (UID 12 FLAGS (\\Seen) RFC822 {3}",
        bytearray(b"abc"),
        b")",
        b"1 FETCH (UID 11 RFC822 {2}",
        bytearray(b"de"),
        b")",
        b"Fetch completed.",
    ]
    assert parse_fetch(lines) == [(11, b"de"), (12, b"abc")]
