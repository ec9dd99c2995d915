"""The callback envelope done without wechatpy (bots.wechat.crypto): the same wire
format as wechatpy's crypto in both directions, and every malformed body refused."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET

import pytest
import xmltodict
from fake_wechat import AES_KEY, APP_ID, TOKEN
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.enterprise.crypto import PrpCrypto as WeComPrpCrypto

from bots.wechat.callback import WeChatChannel
from bots.wechat.crypto import Aes, Envelope, Refused, fields
from bots.wechat.settings import WeChatSettings

SETTINGS = WeChatSettings(APP_ID, "0" * 32, TOKEN, AES_KEY)
MESSAGE = "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Content>水管 &amp; 漏水</Content></xml>"


def key() -> bytes:
    return base64.b64decode(AES_KEY + "=")


def test_aes_reads_what_wechatpy_seals_and_wechatpy_reads_what_it_seals() -> None:
    aes = Aes(AES_KEY, APP_ID)
    theirs = PrpCrypto(key()).encrypt(MESSAGE, APP_ID).decode()
    assert aes.decrypt(theirs).decode() == MESSAGE
    assert PrpCrypto(key()).decrypt(aes.encrypt(MESSAGE.encode()), APP_ID) == MESSAGE
    wecom = Aes(AES_KEY, "ww0123456789")
    theirs = WeComPrpCrypto(key()).encrypt(MESSAGE, "ww0123456789").decode()
    assert wecom.decrypt(theirs).decode() == MESSAGE


def test_a_sealed_reply_opens_with_wechatpy() -> None:
    sealed = Envelope(SETTINGS).seal({"msg_signature": "x"}, MESSAGE)
    outer = xmltodict.parse(sealed)["xml"]
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    opened = crypto.decrypt_message(
        sealed, outer["MsgSignature"], outer["TimeStamp"], outer["Nonce"]
    )
    assert opened == MESSAGE


@pytest.mark.parametrize(
    "cipher",
    [
        "not base64!",
        base64.b64encode(b"x" * 15).decode(),  # not whole blocks
        base64.b64encode(b"x" * 32).decode(),  # garbage: bad padding or length
        "",
    ],
)
def test_undecryptable_text_is_refused(cipher: str) -> None:
    with pytest.raises(Refused):
        Aes(AES_KEY, APP_ID).decrypt(cipher)


def test_a_message_for_another_receiver_is_refused() -> None:
    other = PrpCrypto(key()).encrypt(MESSAGE, "wxffffffffffffffff").decode()
    with pytest.raises(Refused, match="another AppID"):
        Aes(AES_KEY, APP_ID).decrypt(other)


def test_a_byte_order_mark_and_spaces_in_the_root_tag_are_fine() -> None:
    assert fields(b"\xef\xbb\xbf<xml\n><A>1</A></xml>") == {"A": "1"}


def test_fields_are_text_and_nested_elements_dicts() -> None:
    body = (
        '<?xml version="1.0" encoding="utf-8"?>\n<xml><A><![CDATA[x]]></A><B>1 &lt; 2</B>'
        "<C/><Info><Label>东门</Label><Scale>15</Scale></Info></xml>"
    )
    assert fields(body.encode()) == {
        "A": "x",
        "B": "1 < 2",
        "C": "",
        "Info": {"Label": "东门", "Scale": "15"},
    }


def _tree(element: ET.Element) -> str | dict[str, object]:
    return {c.tag: _tree(c) for c in element} if len(element) else element.text or ""


@pytest.mark.parametrize(
    "body",
    [
        "<xml><A>x<!-- a comment -->y<?pi z?></A><B>\n  <C>1</C> tail </B></xml>",
        "<xml><A>1</A><A>2</A><B><C/><C>3</C></B><D>&#x6C34;&amp;&gt;</D></xml>",
        '<xml xmlns:n="urn:n"><n:A>1</n:A><B xmlns="urn:b"><C>2</C></B><E k="v">3</E></xml>',
        "<xml>\r\n<A><![CDATA[a\r\nb]]>c\rd</A>\n</xml>",
        "<xml><A><B><C><D>deep</D></C></B></A></xml>",
    ],
)
def test_fields_are_what_an_elementtree_gives(body: str) -> None:
    """The fields are read from expat's events, not from a tree: the same as
    ElementTree's tree, leaf text, children, namespaces and line ends alike."""
    assert fields(body.encode()) == _tree(ET.fromstring(body))


@pytest.mark.parametrize("body", [b"<xml><n:A>1</n:A></xml>", b"<xml><A>1</B></xml>"])
def test_what_an_elementtree_refuses_is_refused(body: bytes) -> None:
    with pytest.raises(ET.ParseError):
        ET.fromstring(body)
    with pytest.raises(Refused, match="not XML"):
        fields(body)


@pytest.mark.parametrize(
    "body",
    [
        b'<!DOCTYPE x [<!ENTITY a "aaaa">]><xml><A>&a;</A></xml>',
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aa">]><xml><A>&a;</A></xml>',
        b'<?pi <xml?><!DOCTYPE x [<!ENTITY a "aa">]><xml><A>&a;</A></xml>',
        b"<!-- hello --><xml><A>1</A></xml>",
        b"<xml><A>&undefined;</A></xml>",
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "aa">]>'
        "<xml><A>&a;</A></xml>".encode("utf-16"),
        b"<xml><A>1</A>",
        b"<xml/>",
        b"<other><A>1</A></other>",
        b"<xml>" + b"<A>1</A>" * 10_000 + b"</xml>",  # over 64 KiB
    ],
)
def test_anything_but_a_plain_wechat_message_is_refused(body: bytes) -> None:
    with pytest.raises(Refused):
        fields(body)


def test_a_reply_keeps_text_that_would_end_its_cdata() -> None:
    text = "描述：a]]><b>&c"
    reply = WeChatChannel._xml({"FromUserName": "o_1", "ToUserName": "gh_1"}, text)
    parsed = xmltodict.parse(reply)["xml"]
    assert (parsed["Content"], parsed["ToUserName"], parsed["FromUserName"]) == (
        text,
        "o_1",
        "gh_1",
    )
