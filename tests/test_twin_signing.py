"""The twin's signature checks: Alibaba Cloud's published test vectors, tampering, real SDK calls."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Iterator

import pytest
from alibabacloud_tea_openapi.exceptions import ClientException

from aliconform import ContractSet
from aliconform.sdk import SdkCallOptions, sdk_call
from aliconform.twin import TWIN_ACCESS_KEY_ID, TWIN_ACCESS_KEY_SECRET, TwinConfig, TwinServer
from aliconform.twin.signing import (
    NonceLedger,
    SignatureRejected,
    WireRequest,
    authenticate,
    check_timestamp,
    content_sha256,
    parse_v3_authorization,
    v2_signature,
    v2_string_to_sign,
    v3_signature,
    v3_string_to_sign,
    verify_v2,
    verify_v3,
)

# --- the published vectors -------------------------------------------------------------------

# Signature V2 documentation, DescribeRegions example.
V2_PARAMS = {
    "AccessKeyId": "testid",
    "Action": "DescribeRegions",
    "Format": "XML",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    "SignatureVersion": "1.0",
    "Timestamp": "2016-02-23T12:46:24Z",
    "Version": "2014-05-26",
}
V2_SECRET = "testsecret"
V2_SIGNATURE = "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
V2_STRING_TO_SIGN = (
    "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML"
    "%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"
    "%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
)

# Signature V3 documentation, RunInstances example.
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
V3_QUERY = {
    "ImageId": "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd",
    "RegionId": "cn-shanghai",
}
V3_HEADERS = {
    "host": "ecs.cn-shanghai.aliyuncs.com",
    "x-acs-action": "RunInstances",
    "x-acs-content-sha256": EMPTY_SHA256,
    "x-acs-date": "2023-10-26T10:22:32Z",
    "x-acs-signature-nonce": "3156853299f313e23d1673dc12e1703d",
    "x-acs-version": "2014-05-26",
}
V3_SIGNED = tuple(sorted(V3_HEADERS))
V3_AK, V3_SECRET = "YourAccessKeyId", "YourAccessKeySecret"
V3_SIGNATURE = "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
V3_AUTHORIZATION = (
    f"ACS3-HMAC-SHA256 Credential={V3_AK},SignedHeaders={';'.join(V3_SIGNED)},"
    f"Signature={V3_SIGNATURE}"
)


def _one_off(text: str, index: int = -1) -> str:
    """text with one character changed."""
    position = index % len(text)
    swapped = "1" if text[position] != "1" else "2"
    return text[:position] + swapped + text[position + 1 :]


def _verify_v3(
    query: dict[str, str] = V3_QUERY,
    headers: dict[str, str] = V3_HEADERS,
    body: bytes = b"",
    authorization: str = V3_AUTHORIZATION,
    secret: str = V3_SECRET,
) -> bool:
    return verify_v3(
        method="POST",
        pathname="/",
        query=query,
        headers=headers,
        body=body,
        authorization=authorization,
        secret=secret,
    )


def test_v2_vector_signature_and_string_to_sign() -> None:
    assert v2_signature(V2_PARAMS, "GET", V2_SECRET) == V2_SIGNATURE
    assert verify_v2({**V2_PARAMS, "Signature": V2_SIGNATURE}, "GET", V2_SECRET)
    sts = v2_string_to_sign(V2_PARAMS, "GET")
    assert sts == V2_STRING_TO_SIGN
    # The string quoted in SignatureDoesNotMatch messages is the one the signature covers.
    digest = hmac.new(f"{V2_SECRET}&".encode(), sts.encode(), hashlib.sha1).digest()
    assert base64.b64encode(digest).decode() == V2_SIGNATURE


@pytest.mark.parametrize("name", [*V2_PARAMS, "Signature"])
def test_v2_one_character_tampered_fails(name: str) -> None:
    signed = {**V2_PARAMS, "Signature": V2_SIGNATURE}
    signed[name] = _one_off(signed[name], 3)
    assert not verify_v2(signed, "GET", V2_SECRET)


def test_v2_wrong_secret_or_method_fails() -> None:
    signed = {**V2_PARAMS, "Signature": V2_SIGNATURE}
    assert not verify_v2(signed, "GET", _one_off(V2_SECRET))
    assert not verify_v2(signed, "POST", V2_SECRET)


def test_v3_vector_signature_and_string_to_sign() -> None:
    assert content_sha256(b"") == EMPTY_SHA256
    signature = v3_signature(
        method="POST",
        pathname="/",
        query=V3_QUERY,
        headers=V3_HEADERS,
        signed_headers=V3_SIGNED,
        payload_hash=EMPTY_SHA256,
        access_key_id=V3_AK,
        secret=V3_SECRET,
    )
    assert signature == V3_SIGNATURE
    assert _verify_v3()
    sts = v3_string_to_sign(
        method="POST",
        pathname="/",
        query=V3_QUERY,
        headers=V3_HEADERS,
        signed_headers=V3_SIGNED,
        payload_hash=EMPTY_SHA256,
    )
    assert sts.startswith("ACS3-HMAC-SHA256\n")
    assert hmac.new(V3_SECRET.encode(), sts.encode(), hashlib.sha256).hexdigest() == V3_SIGNATURE


@pytest.mark.parametrize("name", sorted(V3_HEADERS))
def test_v3_one_character_of_a_signed_header_tampered_fails(name: str) -> None:
    assert not _verify_v3(headers={**V3_HEADERS, name: _one_off(V3_HEADERS[name], 5)})


@pytest.mark.parametrize("name", sorted(V3_QUERY))
def test_v3_one_character_of_the_query_tampered_fails(name: str) -> None:
    assert not _verify_v3(query={**V3_QUERY, name: _one_off(V3_QUERY[name], 5)})


def test_v3_tampered_signature_body_or_secret_fails() -> None:
    assert not _verify_v3(authorization=_one_off(V3_AUTHORIZATION))
    assert not _verify_v3(body=b"x")  # the body no longer matches x-acs-content-sha256
    assert not _verify_v3(secret=_one_off(V3_SECRET))
    # An unsigned header does not count; the same request still verifies.
    assert _verify_v3(headers={**V3_HEADERS, "user-agent": "anything"})


def test_v3_content_sha256_must_be_the_body_hash_even_when_signed() -> None:
    body = b"TaskId=t-1"
    headers = {**V3_HEADERS, "x-acs-content-sha256": EMPTY_SHA256}  # not the body's hash
    signature = v3_signature(
        method="POST",
        pathname="/",
        query=V3_QUERY,
        headers=headers,
        signed_headers=V3_SIGNED,
        payload_hash=content_sha256(body),
        access_key_id=V3_AK,
        secret=V3_SECRET,
    )
    authorization = V3_AUTHORIZATION.replace(V3_SIGNATURE, signature)
    assert not _verify_v3(headers=headers, body=body, authorization=authorization)
    honest = {**V3_HEADERS, "x-acs-content-sha256": content_sha256(body)}
    assert _verify_v3(headers=honest, body=body, authorization=authorization) is False
    resigned = V3_AUTHORIZATION.replace(
        V3_SIGNATURE,
        v3_signature(
            method="POST",
            pathname="/",
            query=V3_QUERY,
            headers=honest,
            signed_headers=V3_SIGNED,
            payload_hash=content_sha256(body),
            access_key_id=V3_AK,
            secret=V3_SECRET,
        ),
    )
    assert _verify_v3(headers=honest, body=body, authorization=resigned)


def test_v3_authorization_must_be_well_formed() -> None:
    parsed = parse_v3_authorization(V3_AUTHORIZATION)
    assert (parsed.access_key_id, parsed.signed_headers) == (V3_AK, V3_SIGNED)
    for bad in ("", "ACS3-HMAC-SHA256 Credential=a", f"acs {V3_AK}:c2lnbmF0dXJl"):
        with pytest.raises(SignatureRejected) as info:
            parse_v3_authorization(bad)
        assert info.value.code == "IncompleteSignature"


# --- whole requests ------------------------------------------------------------------------


def _v3_request(**changes: str) -> WireRequest:
    headers = {**V3_HEADERS, "authorization": V3_AUTHORIZATION, **changes}
    return WireRequest("POST", "/", V3_QUERY, headers)


@pytest.mark.parametrize(
    ("request_", "credentials", "code"),
    [
        (_v3_request(), {V3_AK: V3_SECRET}, None),
        (_v3_request(), {"someone-else": V3_SECRET}, "InvalidAccessKeyId.NotFound"),
        (_v3_request(), {V3_AK: "not-the-secret"}, "SignatureDoesNotMatch"),
        (
            _v3_request(authorization=V3_AUTHORIZATION.replace("SHA256", "SM3", 1)),
            {V3_AK: V3_SECRET},
            "InvalidSignatureMethod",
        ),
        (_v3_request(**{"x-acs-extra": "1"}), {V3_AK: V3_SECRET}, "IncompleteSignature"),
        (WireRequest("POST", "/", V3_QUERY, V3_HEADERS), {V3_AK: V3_SECRET}, "MissingSignature"),
        (
            WireRequest("GET", "/", {**V2_PARAMS, "Signature": V2_SIGNATURE}, {}),
            {"testid": V2_SECRET},
            None,
        ),
        (
            WireRequest("GET", "/", {**V2_PARAMS, "Signature": V2_SIGNATURE}, {}),
            {"testid": "not-the-secret"},
            "SignatureDoesNotMatch",
        ),
        (
            WireRequest("GET", "/", {"Signature": V2_SIGNATURE, "Action": "DescribeRegions"}, {}),
            {"testid": V2_SECRET},
            "MissingAccessKeyId",
        ),
    ],
)
def test_authenticate(request_: WireRequest, credentials: dict[str, str], code: str | None) -> None:
    if code is None:
        assert authenticate(request_, credentials).access_key_id in credentials
        return
    with pytest.raises(SignatureRejected) as info:
        authenticate(request_, credentials)
    assert info.value.code == code
    if code == "SignatureDoesNotMatch":
        assert info.value.server_string
        assert "not-the-secret" not in info.value.server_string


def test_v2_form_body_parameters_are_signed_too() -> None:
    form = {"TaskId": "t-1"}
    signature = v2_signature({**V2_PARAMS, **form}, "POST", V2_SECRET)
    query = {**V2_PARAMS, "Signature": signature}
    assert authenticate(WireRequest("POST", "/", query, {}, form=form), {"testid": V2_SECRET})
    tampered = WireRequest("POST", "/", query, {}, form={"TaskId": "t-2"})
    with pytest.raises(SignatureRejected):
        authenticate(tampered, {"testid": V2_SECRET})


def test_timestamps_and_nonces() -> None:
    now = dt.datetime(2023, 10, 26, 10, 22, 32, tzinfo=dt.UTC)
    check_timestamp("2023-10-26T10:30:00Z", now)
    for value, code in [
        ("2023-10-26 10:22:32", "InvalidTimeStamp.Format"),
        ("2023-10-26T09:00:00Z", "InvalidTimeStamp.Expired"),
        ("2023-10-26T11:00:00Z", "InvalidTimeStamp.Expired"),
    ]:
        with pytest.raises(SignatureRejected) as info:
            check_timestamp(value, now)
        assert info.value.code == code
    ledger = NonceLedger()
    ledger.use("nonce-1", now)
    ledger.use("nonce-2", now)
    with pytest.raises(SignatureRejected) as used:
        ledger.use("nonce-1", now)
    assert used.value.code == "SignatureNonceUsed"
    ledger.use("nonce-1", now + dt.timedelta(hours=1))  # long forgotten


# --- real SDK calls against a twin -----------------------------------------------------------


@pytest.fixture(scope="module")
def twin(contracts: ContractSet) -> Iterator[TwinServer]:
    with TwinServer(TwinConfig(contracts=contracts)) as server:
        yield server


def _options(twin: TwinServer, signature: str, key: str, secret: str) -> SdkCallOptions:
    return SdkCallOptions(
        endpoint=twin.endpoint,
        region="cn-shanghai",
        access_key_id=key,
        access_key_secret=secret,
        protocol="http",
        signature="v2" if signature == "v2" else "v3",
    )


@pytest.mark.parametrize("signature", ["v3", "v2"])
def test_sdk_call_with_the_right_secret_is_accepted(
    twin: TwinServer, contracts: ContractSet, signature: str
) -> None:
    options = _options(twin, signature, TWIN_ACCESS_KEY_ID, TWIN_ACCESS_KEY_SECRET)
    params = {"ProjectName": "p", "TaskType": "ImageModeration", "TaskId": "ImageModeration-x"}
    with pytest.raises(ClientException) as info:  # signed right: the service itself answers
        sdk_call(contracts["GetImageModerationResult"], params, options)
    assert info.value.code == "ResourceNotFound"
    assert twin.log[-1].signature == signature


@pytest.mark.parametrize("signature", ["v3", "v2"])
def test_sdk_call_with_a_wrong_secret_gets_signature_does_not_match(
    twin: TwinServer, contracts: ContractSet, signature: str
) -> None:
    wrong = TWIN_ACCESS_KEY_SECRET + "-wrong"
    options = _options(twin, signature, TWIN_ACCESS_KEY_ID, wrong)
    with pytest.raises(ClientException) as info:
        sdk_call(contracts["QuerySmarttagJob"], {"JobId": "0" * 32}, options)
    error = info.value
    assert (error.status_code, error.code) == (400, "SignatureDoesNotMatch")
    message = error.data["Message"]
    assert message.startswith("Specified signature is not matched with our calculation.")
    assert "server string to sign is:" in message
    assert TWIN_ACCESS_KEY_SECRET not in message
    assert list(error.data)[:5] == ["RequestId", "HostId", "Code", "Message", "Recommend"]


@pytest.mark.parametrize("signature", ["v3", "v2"])
def test_sdk_call_with_an_unknown_access_key(
    twin: TwinServer, contracts: ContractSet, signature: str
) -> None:
    options = _options(twin, signature, "unknown-access-key-id", TWIN_ACCESS_KEY_SECRET)
    with pytest.raises(ClientException) as info:
        sdk_call(contracts["QuerySmarttagJob"], {"JobId": "0" * 32}, options)
    assert (info.value.status_code, info.value.code) == (404, "InvalidAccessKeyId.NotFound")


def test_twin_credentials_look_fake() -> None:
    assert not TWIN_ACCESS_KEY_ID.startswith(("LTAI", "STS."))
    assert "twin" in TWIN_ACCESS_KEY_ID
    assert "twin" in TWIN_ACCESS_KEY_SECRET
