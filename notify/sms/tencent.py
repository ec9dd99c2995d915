"""Tencent Cloud SMS (腾讯云短信, API 2021-01-11 ``SendSms``) through Tencent's own SDK
(``tencentcloud-sdk-python-sms``, extra ``sms-tencent``), which signs with TC3-HMAC-SHA256.
The SDK is synchronous (requests), so each send runs in a worker thread.

Like Aliyun, Tencent sends approved templates: ``[sms.tencent] templates`` maps a notice
kind (or ``generic``) to a template id, whose ``{1}``, ``{2}``, … get the placeholders of
the catalog's text in order of appearance. ``endpoint`` may carry a scheme for a test
server; ``SessionContext`` carries the notice's key back in receipts.

A failed status's ``Code`` decides: a wrong number, an unapproved template or signature,
a number on the blacklist — not retried; a per-number limit — retried after its window;
anything else — retried.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

from config.notify_config import SmsSettings
from notify.sms import SmsMessage
from tickets.errors import DeliveryError

NO_RETRY_PREFIXES = ("InvalidParameter", "UnsupportedOperation", "MissingParameter")
NO_RETRY = frozenset(
    {
        "FailedOperation.TemplateIncorrectOrUnapproved",
        "FailedOperation.SignatureIncorrectOrUnapproved",
        "FailedOperation.PhoneNumberInBlacklist",
        "FailedOperation.ContainSensitiveWord",
        "FailedOperation.MissingTemplateToModify",
        "FailedOperation.PhoneNumberParseFail",
    }
)
LIMIT_WAITS = {
    "LimitExceeded.PhoneNumberThirtySecondLimit": 30.0,
    "LimitExceeded.PhoneNumberOneHourLimit": 3600.0,
    "LimitExceeded.PhoneNumberSameContentDailyLimit": 86400.0,
    "LimitExceeded.PhoneNumberDailyLimit": 86400.0,
    "LimitExceeded.DeliveryFrequencyLimit": 60.0,
    "RequestLimitExceeded": 1.0,
}


def error_of(code: str, text: str) -> DeliveryError:
    reason = f"tencent {code}: {text}"
    if code in NO_RETRY or code.startswith(NO_RETRY_PREFIXES):
        return DeliveryError(reason, retry=False)
    wait = next((s for prefix, s in LIMIT_WAITS.items() if code.startswith(prefix)), None)
    return DeliveryError(reason, retry=True, retry_after=wait)


class TencentProvider:
    name = "tencent"

    def __init__(self, settings: SmsSettings) -> None:
        self.settings = settings

    def client(self) -> Any:
        # Built per send: the SDK keeps a requests session that is not thread-safe.
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111 import sms_client

        options = self.settings.options
        endpoint = str(options["endpoint"])
        split = urlsplit(endpoint if "//" in endpoint else f"https://{endpoint}")
        profile = HttpProfile(
            protocol=split.scheme, endpoint=split.netloc, reqTimeout=int(self.settings.timeout)
        )
        return sms_client.SmsClient(
            credential.Credential(options["secret_id"], options["secret_key"]),
            str(options["region"]),
            ClientProfile(httpProfile=profile),
        )

    def request(self, message: SmsMessage) -> Any:
        from tencentcloud.sms.v20210111 import models

        templates = self.settings.templates
        template, params = templates.get(message.kind), list(message.params.values())
        if template is None:
            template, params = templates.get("generic"), [message.params.get("number", "")]
        if template is None:
            raise DeliveryError(
                f"no approved template for {message.kind} (nor generic)", retry=False
            )
        request = models.SendSmsRequest()
        request.from_json_string(
            json.dumps(
                {
                    "PhoneNumberSet": [message.phone],
                    "SmsSdkAppId": str(self.settings.options["sdk_app_id"]),
                    "SignName": self.settings.sign_name,
                    "TemplateId": template,
                    "TemplateParamSet": params,
                    "SessionContext": message.key[:512],
                }
            )
        )
        return request

    async def send(self, message: SmsMessage) -> str:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
            TencentCloudSDKException,
        )

        request = self.request(message)
        try:
            response = await asyncio.to_thread(lambda: self.client().SendSms(request))
        except TencentCloudSDKException as exc:
            raise error_of(str(exc.get_code() or ""), str(exc.get_message())) from exc
        statuses = response.SendStatusSet or []
        if not statuses:
            raise DeliveryError("tencent: no send status in the answer", retry=True)
        status = statuses[0]
        if status.Code != "Ok":
            raise error_of(str(status.Code), str(status.Message))
        return str(status.SerialNo or "")

    async def close(self) -> None:
        return None
