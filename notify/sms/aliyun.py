"""Aliyun SMS (阿里云短信, dysmsapi 2017-05-25 ``SendSms``) through Aliyun's own SDK
(``alibabacloud-dysmsapi20170525``, extra ``sms-aliyun``), whose async client runs on
aiohttp and signs with ACS3-HMAC-SHA256.

Aliyun sends approved templates only: ``[sms.aliyun] templates`` maps a notice kind (or
``generic``) to its template code, and the template's ``${name}`` variables get the
placeholders of the catalog's text (``notify.sms.text``). ``endpoint`` may carry a
scheme (``http://127.0.0.1:8000`` for a test server).

The answer's ``Code`` decides: ``OK`` is sent (``BizId`` is the message id); a bad
number, a template or signature that is not approved, content refused — not retried;
throttling, a balance run dry, a server error — retried.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from config.notify_config import SmsSettings
from notify.sms import SmsMessage
from tickets.errors import DeliveryError

# Codes for which the same request can only fail again.
NO_RETRY = frozenset(
    {
        "isv.MOBILE_NUMBER_ILLEGAL",
        "isv.MOBILE_COUNT_OVER_LIMIT",
        "isv.TEMPLATE_MISSING_PARAMETERS",
        "isv.TEMPLATE_PARAMS_ILLEGAL",
        "isv.SMS_TEMPLATE_ILLEGAL",
        "isv.SMS_SIGNATURE_ILLEGAL",
        "isv.SMS_SIGN_ILLEGAL",
        "isv.INVALID_PARAMETERS",
        "isv.INVALID_JSON_PARAM",
        "isv.PARAM_LENGTH_LIMIT",
        "isv.PARAM_NOT_SUPPORT_URL",
        "isv.BLACK_KEY_CONTROL_LIMIT",
        "isv.SMS_CONTENT_ILLEGAL",
        "isv.DOMESTIC_NUMBER_NOT_SUPPORTED",
        "isv.CUSTOMER_REFUSED",
        "isv.EXTEND_CODE_ERROR",
        "MissingPhoneNumbers",
        "MissingTemplateCode",
    }
)
THROTTLED = ("isv.BUSINESS_LIMIT_CONTROL", "Throttling")
THROTTLE_WAIT = 60.0  # seconds: Aliyun's per-number limit is counted per minute


def template_for(settings: SmsSettings, message: SmsMessage) -> tuple[str, dict[str, str]]:
    """The template code and its variables for ``message``; refused if none is set."""
    code = settings.templates.get(message.kind)
    params = message.params
    if code is None:
        code = settings.templates.get("generic")
        params = {"number": message.params.get("number", "")}
    if code is None:
        raise DeliveryError(f"no approved template for {message.kind} (nor generic)", retry=False)
    return code, params


def error_of(code: str, text: str, status: int | None = None) -> DeliveryError:
    reason = f"aliyun {code}: {text}" if code else f"aliyun: {text}"
    if code in NO_RETRY:
        return DeliveryError(reason, retry=False)
    if status == 429 or code.startswith(THROTTLED):
        return DeliveryError(reason, retry=True, retry_after=THROTTLE_WAIT)
    return DeliveryError(reason, retry=True)


class AliyunProvider:
    name = "aliyun"

    def __init__(self, settings: SmsSettings) -> None:
        self.settings = settings
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            from alibabacloud_dysmsapi20170525.client import Client
            from alibabacloud_tea_openapi.models import Config as AliyunConfig

            options = self.settings.options
            endpoint = str(options["endpoint"])
            split = urlsplit(endpoint if "//" in endpoint else f"https://{endpoint}")
            timeout_ms = int(self.settings.timeout * 1000)
            self._client = Client(
                AliyunConfig(
                    access_key_id=options["access_key_id"],
                    access_key_secret=options["access_key_secret"],
                    endpoint=split.netloc,
                    protocol=split.scheme,
                    connect_timeout=timeout_ms,
                    read_timeout=timeout_ms,
                )
            )
        return self._client

    async def send(self, message: SmsMessage) -> str:
        from alibabacloud_dysmsapi20170525 import models
        from alibabacloud_tea_util.models import RuntimeOptions

        code, params = template_for(self.settings, message)
        request = models.SendSmsRequest(
            phone_numbers=message.phone,
            sign_name=self.settings.sign_name,
            template_code=code,
            template_param=json.dumps(params, ensure_ascii=False),
            out_id=message.key[:64],  # comes back in delivery receipts
        )
        try:
            # The outbox retries; the SDK's own retries would hide a throttle from it.
            response = await self.client().send_sms_with_options_async(
                request, RuntimeOptions(autoretry=False, max_attempts=0)
            )
        except Exception as exc:
            raise _translate(exc) from exc
        body = response.body
        if body is None or body.code != "OK":
            raise error_of(
                getattr(body, "code", "") or "", getattr(body, "message", "") or "no answer"
            )
        return str(body.biz_id or "")

    async def close(self) -> None:
        return None


def _translate(exc: Exception) -> DeliveryError:
    """A Tea SDK exception (HTTP error with a JSON body, or no usable answer at all)."""
    data = getattr(exc, "data", None)
    data = data if isinstance(data, dict) else {}
    code = str(getattr(exc, "code", None) or data.get("Code") or "")
    status = data.get("statusCode")
    text = str(getattr(exc, "message", None) or data.get("Message") or exc)
    return error_of(code, text, status if isinstance(status, int) else None)
