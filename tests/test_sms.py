"""SMS: the texts fit one billed segment (or are split knowingly), and each provider — the
vendors' own SDKs and the generic gateway — speaks its wire format to a fake server on
127.0.0.1 and maps its answers to retry / do not retry."""

from __future__ import annotations

import logging
import string
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fake_sms import SECRET, FakeAliyun, FakeGateway, FakeTencent, FakeTwilio

from config.loader import default_text, load_text
from config.model import Config
from conversation.i18n import catalog
from notify.sms import SmsSender, build_provider
from notify.sms.text import compose, segments, with_sign
from tickets.errors import ConfigError, DeliveryError
from tickets.rows import OutboxRow

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
NUMBER = "BX20261123-0007"
PHONE = "+8613812345678"
# As long as real values get: a 15-character number, a four-character name, 11 digits.
PARAMS = {"number": NUMBER, "technician_name": "欧阳师傅", "technician_phone": "+8613800000001"}


def row(kind: str = "reporter.assigned", locale: str = "zh_CN", **params: Any) -> OutboxRow:
    return OutboxRow(
        id=7,
        key=f"12:{kind}:telegram:42>sms",
        number=NUMBER,
        event_id=12,
        kind=kind,
        channel="sms",
        chat=PHONE,
        locale=locale,
        params={**PARAMS, **params},
        priority=1,
        status="pending",
        attempts=0,
        next_at=NOW,
        created_at=NOW,
    )


def configured(sms: str) -> Config:
    return load_text(default_text() + "\n" + sms)


def sms_kinds() -> list[str]:
    return sorted(k.removeprefix("sms.") for k in catalog("zh_CN") if k.startswith("sms."))


# -- the texts ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sms_kinds())
def test_each_text_fits_one_segment_with_the_signature(kind: str) -> None:
    config = configured('[sms]\nsign_name = "报修中心"\n')
    zh = compose(row(kind, "zh_CN"), config)
    zh_text = with_sign(zh.body, "报修中心")
    # A one-time code (conversation.phone_code) names no ticket: it carries the code.
    assert (NUMBER in zh_text or kind == "verify.code") and "{" not in zh_text
    assert segments(zh_text) == ("ucs2", 1), f"{len(zh_text)} characters: {zh_text}"
    en = compose(row(kind, "en", technician_name="Ouyang"), config)
    assert segments(en.body) == ("gsm7", 1), f"{len(en.body)}: {en.body}"
    # A Chinese name in an English text makes it UCS-2: two segments at most, not cut.
    mixed = compose(row(kind, "en"), config).body
    assert segments(mixed)[1] <= 2 and mixed.endswith(en.body[-10:])


def test_sms_catalogs_have_the_same_keys_and_placeholders() -> None:
    def names(text: str) -> set[str]:
        return {n for _, n, _, _ in string.Formatter().parse(text) if n}

    zh = {k: v for k, v in catalog("zh_CN").items() if k.startswith("sms.")}
    en = {k: v for k, v in catalog("en").items() if k.startswith("sms.")}
    assert zh.keys() == en.keys()
    for key in zh:
        assert names(zh[key]) == names(en[key]), key
        assert names(zh[key]) <= {"number", "name", "phone", "master", "code"}, key


def test_every_reporter_notice_has_its_own_text() -> None:
    from notify.render import kinds

    config = configured("")
    for kind in sorted(k for k in kinds() if k.startswith("reporter.")):
        assert compose(row(kind), config).kind == kind
    assert compose(row("team.offer"), config).kind == "generic"  # never sent by SMS, but safe


def test_segments_count_as_carriers_bill() -> None:
    assert segments("a" * 160) == ("gsm7", 1)
    assert segments("a" * 161) == ("gsm7", 2)
    assert segments("a" * 306) == ("gsm7", 2) and segments("a" * 307) == ("gsm7", 3)
    assert segments("{" * 80) == ("gsm7", 1) and segments("{" * 81) == ("gsm7", 2)
    assert segments("报" * 70) == ("ucs2", 1)
    assert segments("报" * 71) == ("ucs2", 2)
    assert segments("报" * 134) == ("ucs2", 2) and segments("报" * 135) == ("ucs2", 3)
    assert segments("a" * 69 + "😀") == ("ucs2", 2)  # an emoji is two UTF-16 units


# -- the providers --------------------------------------------------------------------------


@pytest.fixture
async def aliyun() -> AsyncIterator[FakeAliyun]:
    fake = await FakeAliyun().start()
    yield fake
    await fake.close()


def aliyun_config(fake: FakeAliyun, templates: str) -> Config:
    return configured(
        f'[sms]\nprovider = "aliyun"\nsign_name = "报修中心"\n[sms.aliyun]\n'
        f'access_key_id = "LTAI-test"\naccess_key_secret = "{SECRET}"\n'
        f'endpoint = "{fake.url}"\ntemplates = {templates}\n'
    )


async def test_aliyun_sends_the_template_with_its_variables(aliyun: FakeAliyun) -> None:
    config = aliyun_config(aliyun, '{ generic = "SMS_100", "reporter.assigned" = "SMS_101" }')
    sender = SmsSender(build_provider(config.sms), config)
    assert await sender.send(PHONE, (), row()) == "900619746936498401^0"
    assert await sender.send(PHONE, (), row("reporter.on_site")) == "900619746936498402^0"
    assert aliyun.refused == []  # the SDK's ACS3 signature checked out
    first, second = aliyun.sent()
    assert (first["PhoneNumbers"], first["SignName"], first["TemplateCode"]) == (
        PHONE,
        "报修中心",
        "SMS_101",
    )
    import json

    assert json.loads(first["TemplateParam"]) == {
        "number": NUMBER,
        "name": "欧阳师傅",
        "phone": "13800000001",
    }
    assert first["OutId"] == row().key
    # No template of its own: the generic one, with the number only.
    assert second["TemplateCode"] == "SMS_100"
    assert json.loads(second["TemplateParam"]) == {"number": NUMBER}


@pytest.mark.parametrize(
    ("status", "body", "retry", "retry_after"),
    [
        (200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "bad number"}, False, None),
        (200, {"Code": "isv.SMS_TEMPLATE_ILLEGAL", "Message": "not approved"}, False, None),
        (200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "per minute"}, True, 60.0),
        (200, {"Code": "isv.AMOUNT_NOT_ENOUGH", "Message": "top up"}, True, None),
        (429, {"Code": "Throttling.User", "Message": "flow control"}, True, 60.0),
        (500, {"Code": "isp.SYSTEM_ERROR", "Message": "oops"}, True, None),
        (502, "<html>Bad Gateway</html>", True, None),
    ],
)
async def test_aliyun_answers_mean_retry_or_not(
    aliyun: FakeAliyun, status: int, body: Any, retry: bool, retry_after: float | None
) -> None:
    config = aliyun_config(aliyun, '{ generic = "SMS_100" }')
    aliyun.fail(status, {**body, "RequestId": "r"} if isinstance(body, dict) else body)
    sender = SmsSender(build_provider(config.sms), config)
    with pytest.raises(DeliveryError) as info:
        await sender.send(PHONE, (), row())
    assert (info.value.retry, info.value.retry_after) == (retry, retry_after)
    assert info.value.reason.startswith("aliyun")


async def test_aliyun_without_a_template_for_the_kind_is_not_retried(aliyun: FakeAliyun) -> None:
    config = aliyun_config(aliyun, '{ "reporter.closed" = "SMS_9" }')
    with pytest.raises(DeliveryError) as info:
        await SmsSender(build_provider(config.sms), config).send(PHONE, (), row())
    assert not info.value.retry and "no approved template" in info.value.reason
    assert aliyun.received == []


@pytest.fixture
async def tencent() -> AsyncIterator[FakeTencent]:
    fake = await FakeTencent().start()
    yield fake
    await fake.close()


def tencent_config(fake: FakeTencent) -> Config:
    return configured(
        f'[sms]\nprovider = "tencent"\nsign_name = "报修中心"\n[sms.tencent]\n'
        f'secret_id = "AKID-test"\nsecret_key = "{SECRET}"\nsdk_app_id = "1400000001"\n'
        f'endpoint = "{fake.url}"\n'
        'templates = { generic = "1000", "reporter.assigned" = "1001" }\n'
    )


async def test_tencent_sends_positional_template_parameters(tencent: FakeTencent) -> None:
    config = tencent_config(tencent)
    sender = SmsSender(build_provider(config.sms), config)
    assert await sender.send(PHONE, (), row()) == "5000:1"
    assert tencent.refused == []  # the SDK's TC3 signature checked out
    (body,) = tencent.sent()
    assert body["PhoneNumberSet"] == [PHONE]
    assert (body["SmsSdkAppId"], body["SignName"], body["TemplateId"]) == (
        "1400000001",
        "报修中心",
        "1001",
    )
    # {1}, {2}, {3} in the order the catalog's text names them.
    assert body["TemplateParamSet"] == [NUMBER, "欧阳师傅", "13800000001"]
    assert body["SessionContext"] == row().key


@pytest.mark.parametrize(
    ("code", "retry", "retry_after"),
    [
        ("InvalidParameterValue.IncorrectPhoneNumber", False, None),
        ("FailedOperation.TemplateIncorrectOrUnapproved", False, None),
        ("FailedOperation.PhoneNumberInBlacklist", False, None),
        ("LimitExceeded.PhoneNumberThirtySecondLimit", True, 30.0),
        ("FailedOperation.InsufficientBalanceInSmsPackage", True, None),
    ],
)
async def test_tencent_status_codes_mean_retry_or_not(
    tencent: FakeTencent, code: str, retry: bool, retry_after: float | None
) -> None:
    config = tencent_config(tencent)
    tencent.fail(200, tencent.status(code, "refused"))
    with pytest.raises(DeliveryError) as info:
        await SmsSender(build_provider(config.sms), config).send(PHONE, (), row())
    assert (info.value.retry, info.value.retry_after) == (retry, retry_after)
    assert code in info.value.reason


async def test_tencent_request_errors_are_translated(tencent: FakeTencent) -> None:
    config = tencent_config(tencent)
    for code in ("InternalError", "InvalidParameter"):
        error = {"Code": code, "Message": code}
        tencent.fail(200, {"Response": {"Error": error, "RequestId": "r"}})
    sender = SmsSender(build_provider(config.sms), config)
    with pytest.raises(DeliveryError) as first:
        await sender.send(PHONE, (), row())
    with pytest.raises(DeliveryError) as second:
        await sender.send(PHONE, (), row())
    assert first.value.retry and not second.value.retry


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    fake = await FakeTwilio().start()
    yield fake
    await fake.close()


def twilio_config(fake: FakeTwilio) -> Config:
    return configured(
        f'[sms]\nprovider = "twilio"\nsign_name = "Repair desk"\n[sms.twilio]\n'
        f'account_sid = "AC1"\nauth_token = "{SECRET}"\nfrom_number = "+15005550006"\n'
        f'endpoint = "{fake.url}"\n'
    )


async def test_twilio_sends_the_text_with_the_signature(twilio: FakeTwilio) -> None:
    config = twilio_config(twilio)
    sid = await SmsSender(build_provider(config.sms), config).send(PHONE, (), row(locale="en"))
    assert sid.startswith("SM") and twilio.refused == []
    (form,) = twilio.sent()
    assert (form["To"], form["From"]) == (PHONE, "+15005550006")
    assert form["Body"].startswith(
        "【Repair desk】Repair BX20261123-0007: 欧阳师傅 (tel 13800000001)"
    )


@pytest.mark.parametrize(
    ("status", "code", "retry"),
    [(400, 21211, False), (400, 21610, False), (429, 20429, True), (503, 20500, True)],
)
async def test_twilio_errors_mean_retry_or_not(
    twilio: FakeTwilio, status: int, code: int, retry: bool
) -> None:
    config = twilio_config(twilio)
    twilio.fail(status, FakeTwilio.error(status, code, "refused"))
    with pytest.raises(DeliveryError) as info:
        await SmsSender(build_provider(config.sms), config).send(PHONE, (), row())
    assert info.value.retry is retry and str(code) in info.value.reason


async def test_twilio_wrong_token_waits_for_the_operator(twilio: FakeTwilio) -> None:
    config = twilio_config(twilio)
    wrong = configured(
        f'[sms]\nprovider = "twilio"\n[sms.twilio]\naccount_sid = "AC1"\n'
        f'auth_token = "wrong"\nfrom_number = "+15005550006"\nendpoint = "{twilio.url}"\n'
    )
    with pytest.raises(DeliveryError) as info:
        await SmsSender(build_provider(wrong.sms), config).send(PHONE, (), row())
    assert info.value.retry and twilio.refused == ["Authenticate"]


@pytest.fixture
async def gateway() -> AsyncIterator[FakeGateway]:
    fake = await FakeGateway().start()
    yield fake
    await fake.close()


def gateway_config(fake: FakeGateway, fmt: str = "json") -> Config:
    return configured(
        f'[sms]\nprovider = "http"\nsign_name = "报修中心"\n[sms.http]\n'
        f'url = "{fake.url}/send"\nformat = "{fmt}"\nid_field = "data.msgid"\n'
        'headers = { Authorization = "Bearer t0k" }\n'
        'fields = { mobile = "{phone}", content = "{text}", ref = "{number}" }\n'
    )


@pytest.mark.parametrize("fmt", ["json", "form"])
async def test_gateway_posts_the_fields_with_an_idempotency_key(
    gateway: FakeGateway, fmt: str
) -> None:
    config = gateway_config(gateway, fmt)
    sender = SmsSender(build_provider(config.sms), config)
    try:
        assert await sender.send(PHONE, (), row()) == "m1"
        assert await sender.send(PHONE, (), row()) == "m1"  # the same notice again
    finally:
        await sender.close()
    assert len(gateway.received) == 2 and len(gateway.shown) == 1  # shown once
    (fields,) = gateway.shown
    assert fields == {
        "mobile": PHONE,
        "content": "【报修中心】报修BX20261123-0007已派给欧阳师傅，"
        "电话13800000001，请保持电话畅通。",
        "ref": NUMBER,
    }
    first = gateway.received[0]
    assert first["key"] == row().key and first["auth"] == "Bearer t0k"
    assert first["type"] == (
        "application/json" if fmt == "json" else "application/x-www-form-urlencoded"
    )


@pytest.mark.parametrize(
    ("status", "headers", "body", "retry", "retry_after"),
    [
        (429, {"Retry-After": "7"}, {}, True, 7.0),
        (429, {}, {"retry_after": 3}, True, 3.0),
        (502, {}, "bad gateway", True, None),
        (408, {}, {}, True, None),
        (400, {}, {"error": "invalid mobile"}, False, None),
        (403, {}, {"error": "no such sender"}, False, None),
    ],
)
async def test_gateway_statuses_mean_retry_or_not(
    gateway: FakeGateway,
    status: int,
    headers: dict[str, str],
    body: Any,
    retry: bool,
    retry_after: float | None,
) -> None:
    config = gateway_config(gateway)
    gateway.fail(status, body, **headers)
    sender = SmsSender(build_provider(config.sms), config)
    try:
        with pytest.raises(DeliveryError) as info:
            await sender.send(PHONE, (), row())
    finally:
        await sender.close()
    assert (info.value.retry, info.value.retry_after) == (retry, retry_after)


async def test_gateway_unreachable_is_retried() -> None:
    fake = await FakeGateway().start()
    config = gateway_config(fake)
    await fake.close()  # nobody listens on that port any more
    sender = SmsSender(build_provider(config.sms), config)
    try:
        with pytest.raises(DeliveryError) as info:
            await sender.send(PHONE, (), row())
    finally:
        await sender.close()
    assert info.value.retry and "unreachable" in info.value.reason


async def test_log_provider_writes_the_text_with_a_masked_phone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = configured('[sms]\nsign_name = "报修中心"\n')
    assert not config.sms.delivers
    sender = SmsSender(build_provider(config.sms), config)
    with caplog.at_level(logging.INFO, logger="notify.sms.log"):
        assert await sender.send(PHONE, (), row()) == f"log:{row().key}"
    assert "138****5678" in caplog.text and PHONE not in caplog.text
    assert "【报修中心】报修BX20261123-0007已派给欧阳师傅" in caplog.text


# -- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sms", "expected"),
    [
        ('[sms]\nprovider = "smtp"\n', 'sms.provider = "smtp": not one of log, aliyun'),
        (
            '[sms]\nprovider = "aliyun"\nsign_name = "x"\n[sms.aliyun]\naccess_key_id = "a"\n',
            "sms.aliyun.access_key_secret: missing",
        ),
        (
            '[sms]\nprovider = "aliyun"\n[sms.aliyun]\naccess_key_id = "a"\n'
            'access_key_secret = "b"\ntemplates = { generic = "SMS_1" }\n',
            'sms.sign_name = "": aliyun sends nothing without one',
        ),
        (
            '[sms]\nprovider = "aliyun"\nsign_name = "x"\n[sms.aliyun]\naccess_key_id = "a"\n'
            'access_key_secret = "b"\n',
            "sms.aliyun.templates: missing",
        ),
        (
            '[sms]\nprovider = "aliyun"\nsign_name = "x"\n[sms.aliyun]\naccess_key_id = "a"\n'
            'access_key_secret = "b"\ntemplates = { "Reporter Assigned" = "SMS_1" }\n',
            "not a notice kind",
        ),
        ('[sms]\nprovider = "http"\n[sms.http]\nurl = "sms.example.com"\n', "not a web address"),
        (
            '[sms]\nprovider = "twilio"\n[sms.twilio]\naccount_sid = "AC1"\nauth_token = "t"\n',
            "sms.twilio.from_number: missing",
        ),
        ('[sms]\ntimeout = "10"\n', 'sms.timeout = "10": must be a number'),
        ("[sms.aliyun]\nacess_key_id = 1\n", "did you mean access_key_id?"),
    ],
)
def test_bad_sms_settings_are_refused(sms: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        configured(sms)
    assert expected in str(info.value) and " — " in str(info.value)


def test_a_one_time_code_is_sent_with_its_code() -> None:
    config = configured('[sms]\nsign_name = "报修中心"\n')
    text = compose(row("verify.code", number=None, code="042517"), config)
    assert text.kind == "verify.code" and "042517" in text.body
    assert text.params == {"code": "042517"}
