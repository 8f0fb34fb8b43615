"""Cassettes: the file format, provenance, scrubbing, RPC matching, replay and derivation."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
import requests
import vcr
import yaml
from hypothesis import given
from hypothesis import strategies as st
from vcr.errors import CannotOverwriteExistingCassetteException
from vcr.request import Request

from aliconform import ContractSet
from aliconform.cassettes import (
    NetworkBlockedError,
    block_network,
    discover_cassettes,
    load_cassette,
    replay_all,
    rpc_vcr,
    scrub_request,
    scrub_response,
)
from aliconform.cassettes.derive import derive_documentation_cassettes
from aliconform.cassettes.rpc import read_rpc_call
from aliconform.cassettes.scrub import (
    PLACEHOLDER,
    recordable,
    scrub_body,
    scrub_text,
    scrub_uri,
    scrubbing_known_secrets,
)
from aliconform.cassettes.store import interactions_digest, load_provenance
from aliconform.cli import main
from aliconform.contracts.yamlsource import display_path
from aliconform.errors import CassetteError
from conftest import edit_response_body, serving_json

REPO = Path(__file__).resolve().parents[1]
CASSETTES = REPO / "cassettes"
MODERATION = CASSETTES / "imm" / "GetVideoModerationResult"

V3_AUTH = (
    "ACS3-HMAC-SHA256 Credential=LTAI5tExampleKeyId123,SignedHeaders=host;x-acs-action,"
    "Signature=0f3c9b2d7a6e5f4c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4"
)
SIGNED_URL = (
    "https://bucket.oss-cn-shanghai.aliyuncs.com/out.mp4?Expires=1700000000"
    "&OSSAccessKeyId=STS.NTmpSecretKey123&Signature=abc%2Bdef%3D&security-token=CAIS8token"
    "&x-oss-process=video/snapshot"
)


# --- scrubbing -------------------------------------------------------------------------------


def _request(uri: str, headers: dict[str, str], body: bytes | None = None) -> Request:
    return Request("POST", uri, body, headers)


def test_scrubbing_removes_v3_and_v2_credentials() -> None:
    request = _request(
        "https://imm.cn-shanghai.aliyuncs.com/?AccessKeyId=LTAI5tExampleKeyId123&Signature=sig%3D"
        "&SignatureNonce=abc123&SecurityToken=CAIStoken&TaskId=t-1",
        {
            "Authorization": V3_AUTH,
            "x-acs-security-token": "CAIS-sts-token",
            "x-acs-signature-nonce": "d2b140ca3f98dc0a",
        },
    )
    scrubbed = scrub_request(request)
    text = f"{scrubbed.uri} {dict(scrubbed.headers)}"
    for secret in ("LTAI5tExampleKeyId123", "0f3c9b2d7a6e", "sig%3D", "abc123", "CAIS"):
        assert secret not in text
    assert "TaskId=t-1" in scrubbed.uri  # business parameters stay
    assert "SignedHeaders=host;x-acs-action" in scrubbed.headers["Authorization"]


@pytest.mark.parametrize("as_text", [False, True], ids=["bytes", "text"])
def test_a_scrubbed_body_carries_its_own_length(as_text: bool) -> None:
    body = f'{{"OutputUrls": ["{SIGNED_URL}"], "Note": "caf\u00e9"}}'
    raw: str | bytes = body if as_text else body.encode()
    headers = {"Content-Length": [str(len(body.encode()))], "Content-Type": ["application/json"]}
    response = scrub_response(
        {"status": {"code": 200}, "headers": headers, "body": {"string": raw}}
    )
    scrubbed = response["body"]["string"]
    assert scrubbed != raw
    as_bytes = scrubbed.encode() if isinstance(scrubbed, str) else scrubbed
    assert response["headers"]["Content-Length"] == [str(len(as_bytes))]
    assert response["headers"]["Content-Type"] == ["application/json"]
    untouched = {"Content-Length": ["12"]}
    kept = scrub_response({"headers": untouched, "body": {"string": b'{"Note": "x"}'}})
    assert kept["headers"]["Content-Length"] == ["12"]  # nothing scrubbed: as the server said


def test_scrubbing_removes_signed_url_secrets_from_bodies_even_json_escaped() -> None:
    escaped = SIGNED_URL.replace("&", "\\u0026")
    body = f'{{"OutputUrls": ["{SIGNED_URL}", "{escaped}"]}}'.encode()
    response = scrub_response({"status": {"code": 200}, "headers": {}, "body": {"string": body}})
    text = response["body"]["string"].decode()
    for secret in (
        "STS.NTmpSecretKey123",
        "abc%2Bdef%3D",
        "CAIS8token",
        "1700000000",
        "video/snapshot",
    ):
        assert secret not in text
    assert "https://bucket.oss-cn-shanghai.aliyuncs.com/out.mp4?" in text


# Made at run time, so that this file holds no key-shaped text.
_ESCAPED_KEY_ID = "\\u004c" + "TAI5tQw8ZxNp2Rk7Ym3Jd4Hs"
_ESCAPED_SECRET = "x" * 6 + "Q8ZxNp2Rk7Ym3Jd4H"


@pytest.mark.parametrize(
    "body",
    [
        # a key id with its first letter escaped, as any JSON encoder may write it
        f'{{"Message": "The AccessKeyId {_ESCAPED_KEY_ID} is not found."}}',
        # a credential field whose name is escaped
        f'{{"\\u0041ccessKeySecret": "{_ESCAPED_SECRET}"}}',
        # the same one level down: JSON inside a JSON string escapes its backslashes
        '{"Result": "{\\"Note\\": \\"' + _ESCAPED_KEY_ID.replace("\\", "\\\\") + '\\"}"}',
    ],
    ids=["key-id", "field-name", "inside-a-payload"],
)
def test_scrubbing_reads_json_escapes_of_plain_characters(body: str) -> None:
    assert "LTAI5t" in _meaning(body) or _ESCAPED_SECRET in _meaning(body)
    scrubbed = scrub_body(body.encode()).decode()
    assert "LTAI5t" not in _meaning(scrubbed)
    assert _ESCAPED_SECRET not in _meaning(scrubbed)
    assert PLACEHOLDER in _meaning(scrubbed)
    assert scrub_body(scrubbed.encode()).decode() == scrubbed  # idempotent


def _meaning(body: str) -> str:
    """What a body says once decoded, the JSON in its Result string included."""
    data = json.loads(body)
    return json.dumps({k: json.loads(v) if k == "Result" else v for k, v in data.items()})


def test_escapes_stay_as_the_service_wrote_them_where_nothing_is_scrubbed() -> None:
    body = '{"URL": "https://example.com/a?b=1\\u0026c=2", "Name": "\\u004Cabel"}'
    assert scrub_body(body.encode()).decode() == body


_NAMES = st.sampled_from(
    [
        "Signature",
        "signature",
        "OSSAccessKeyId",
        "Expires",
        "security-token",
        "x-oss-credential",
        "AccessKeyId",
        "SecurityToken",
        "SignatureNonce",
        "TaskId",
        "InputURL",
        "Params",
    ]
)
_SEPARATORS = st.sampled_from(["?", "&", "\\u0026", "\\\\u0026", "&amp;", "%26", "%3F", " "])
_VALUES = st.text(alphabet="abcXYZ019%=+/:.-_", max_size=12)
_TEXTS = st.lists(st.tuples(_SEPARATORS, _NAMES, _VALUES), max_size=8).map(
    lambda parts: "https://b.oss.aliyuncs.com/o" + "".join(f"{s}{n}={v}" for s, n, v in parts)
)


@given(_TEXTS)
def test_scrubbing_is_idempotent(text: str) -> None:
    once = scrub_uri(text)
    assert scrub_uri(once) == once
    assert scrub_text(scrub_text(text)) == scrub_text(text)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["?", "&", "\\u0026"]),
            st.sampled_from(
                ["Signature", "OSSAccessKeyId", "security-token", "AccessKeyId", "SecurityToken"]
            ),
            st.text(alphabet="abc0123456789", min_size=8, max_size=12).map(lambda v: "SECRET" + v),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_no_signed_url_secret_survives(parts: list[tuple[str, str, str]]) -> None:
    text = "https://b.oss.aliyuncs.com/o" + "".join(f"{s}{n}={v}" for s, n, v in parts)
    assert "SECRET" not in scrub_text(text)
    assert "SECRET" not in scrub_uri(text)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    *("Signature", "OSSAccessKeyId", "security-token", "Expires"),
                    *("AccessKeyId", "SecurityToken", "SignatureNonce"),
                ]
            ),
            st.text(alphabet="abc0123456789+/=", min_size=8, max_size=12).map(
                lambda v: "SECRET" + v
            ),
        ),
        min_size=1,
        max_size=5,
    ),
    st.integers(min_value=1, max_value=2),
    st.sampled_from(["", "#frag", " and some text"]),
)
def test_no_secret_survives_in_a_percent_encoded_signed_url_in_a_body(
    parts: list[tuple[str, str]], times: int, after: str
) -> None:
    """An InputURL echoed back in a body keeps the percent-encoding it was sent with, once or
    twice over; what follows the URL is kept."""
    url = "https://b.oss.aliyuncs.com/o?" + "&".join(f"{n}={quote(v, safe='')}" for n, v in parts)
    for _ in range(times):
        url = quote(url, safe="")
    body = json.dumps({"Input": {"Media": url + after}}).encode()
    scrubbed = scrub_body(body)
    assert scrub_body(scrubbed) == scrubbed
    media = json.loads(scrubbed)["Input"]["Media"]
    assert media.endswith(after)
    for _ in range(times):
        media = unquote(media)
    assert "SECRET" not in media
    assert media.startswith("https://b.oss.aliyuncs.com/o?")
    assert media.count("=***") == len(parts)  # still a URL, its secrets replaced in place


@pytest.mark.parametrize("times", [1, 2])
def test_what_follows_a_signed_url_inside_percent_encoded_json_is_kept(times: int) -> None:
    """A parameter that carries JSON (Input, UserData) is percent-encoded whole: the signed
    URL in it ends at its encoded closing quote, and the JSON after it is not scrubbed away."""
    document = {
        "url": "https://b.oss-cn-shanghai.aliyuncs.com/v.mp4?Expires=1700000000&Signature=SECRETab",
        "Type": "URL",
        "Tag": "keepme",
    }
    encoded = json.dumps(document, separators=(",", ":"))
    for _ in range(times):
        encoded = quote(encoded, safe="")
    uri = f"https://ice.cn-shanghai.aliyuncs.com/?Input={encoded}&JobId=abc"
    body = json.dumps({"UserData": encoded}).encode()
    for scrubbed in (
        scrub_uri(uri).split("Input=")[1].split("&JobId=")[0],
        json.loads(scrub_body(body))["UserData"],
    ):
        for _ in range(times):
            scrubbed = unquote(scrubbed)
        kept = json.loads(scrubbed)  # still the whole JSON document
        assert kept == document | {
            "url": document["url"].split("?")[0] + "?Expires=***&Signature=***"
        }
    assert scrub_uri(uri).endswith("&JobId=abc")


def test_a_recorded_answer_never_keeps_a_v2_request_it_quotes() -> None:
    """A refused V2 signature's message quotes the string the service signed (AccessKeyId and
    SecurityToken inside); a Location header or a body may echo a V2-signed URL."""
    signed = (
        "POST&%2F&AccessKeyId%3DLTAI5tQ8exampleKey12345%26Action%3DGetImageModerationResult"
        "%26SecurityToken%3DCAISzRF1q6Ft5B2yfSjIr5bXfsLspr1n1OzMHPXoGgbX"
    )
    url = (
        "https://imm.cn-shanghai.aliyuncs.com/?Action=GetImageModerationResult"
        "&AccessKeyId=LTAI5tQ8exampleKey12345&SecurityToken=CAISzRF1q6Ft5B2y"
        "&SignatureNonce=n0nce&Signature=c2lnbmF0dXJl"
    )
    body = json.dumps(
        {
            "Code": "SignatureDoesNotMatch",
            "Message": f"Specified signature is not matched with our calculation. server string to sign is:{signed}",
            "Recommend": url,
        }
    ).encode()
    response = {
        "status": {"code": 400, "message": "Bad Request"},
        "headers": {"Location": [url]},
        "body": {"string": body},
    }
    scrubbed = scrub_response(response)
    text = json.dumps(scrubbed["headers"]) + scrubbed["body"]["string"].decode()
    for secret in ("LTAI5tQ8", "CAISzRF1", "n0nce", "c2lnbmF0dXJl"):
        assert secret not in text
    message = json.loads(scrubbed["body"]["string"])["Message"]
    assert message.endswith("with our calculation. (string to sign omitted)")
    assert scrub_response(scrubbed) == scrubbed


def test_credentials_in_xml_answers_and_snake_case_fields_are_scrubbed() -> None:
    xml = (
        "<Credentials><AccessKeyId>STS.NTmpKeyId123456789</AccessKeyId>"
        "<AccessKeySecret>wJalrXUtnFEMI2K7MDENGbPx</AccessKeySecret>"
        "<SecurityToken>CAIS1234567890abcdef</SecurityToken></Credentials>"
    )
    assert scrub_text(xml) == (
        "<Credentials><AccessKeyId>***</AccessKeyId><AccessKeySecret>***</AccessKeySecret>"
        "<SecurityToken>***</SecurityToken></Credentials>"
    )
    snake = '{"access_key_id": "STS.NTmpKeyId123456789", "access_key_secret": "wJalrXUtnF"}'
    assert scrub_text(snake) == '{"access_key_id": "***", "access_key_secret": "***"}'
    assert scrub_text(scrub_text(xml)) == scrub_text(xml)


@pytest.mark.parametrize("encoding", ["gbk", "latin-1"])
def test_a_body_that_is_not_utf8_is_scrubbed_too(encoding: str) -> None:
    body = '{"Message":"失败 ü","AccessKeySecret":"wJalrXUtnFEMI2K7MDENGbPx","AccessKeyId":"k"}'
    raw = body.encode(encoding, "replace")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    scrubbed = scrub_response({"headers": {}, "body": {"string": raw}})["body"]["string"]
    assert b"wJalrXUtnFEMI2K7MDENGbPx" not in scrubbed
    assert scrubbed == raw.replace(b"wJalrXUtnFEMI2K7MDENGbPx", b"***").replace(b'"k"', b'"***"')


def test_credential_fields_in_json_bodies_are_scrubbed_also_inside_json_strings() -> None:
    """A caller's own JSON echoed back (UserData) can carry credentials in any shape."""
    inner = json.dumps({"SecurityToken": "CAIS/secret+token=", "AccessKeyId": "STS.secretid"})
    body = json.dumps(
        {
            "UserData": inner,
            "AccessKeySecret": "secretvalue0123",
            "SessionToken": "v2:secret token",  # any characters, up to the closing quote
            "Note": "AccessKeyId",
        }
    )
    response = scrub_response({"status": {"code": 200}, "headers": {}, "body": {"string": body}})
    text = response["body"]["string"]
    assert "secret" not in text
    data = json.loads(text)
    assert json.loads(data["UserData"]) == {"SecurityToken": "***", "AccessKeyId": "***"}
    assert data["AccessKeySecret"] == data["SessionToken"] == "***"
    assert data["Note"] == "AccessKeyId"  # a field's name as a value is left alone
    assert scrub_text(text) == text


def test_scrubbing_covers_other_authorization_schemes_form_bodies_and_encoded_urls() -> None:
    encoded = "https%3A%2F%2Fb.oss-cn-shanghai.aliyuncs.com%2Fin.mp4%3FOSSAccessKeyId%3DLTAIsecretkey1%26Signature%3Dsecretsig%26security-token%3DCAISsecret"
    request = _request(
        f"https://ice.cn-shanghai.aliyuncs.com/?InputURL={encoded}&JobId=j",
        {
            "Authorization": "Bearer eyJsecret.token",
            "Proxy-Authorization": "Basic c2VjcmV0",
            "x-oss-security-token": "CAISsecret2",
        },
        b"accesskeyid=LTAIsecretkey2&securitytoken=CAISsecret3&signature=sig2&JobId=j",
    )
    scrubbed = scrub_request(request)
    text = f"{scrubbed.uri} {dict(scrubbed.headers)} {scrubbed.body!r}"
    for secret in (
        "LTAIsecretkey1",
        "secretsig",
        "CAISsecret",
        "eyJsecret",
        "c2VjcmV0",
        "LTAIsecretkey2",
        "sig2",
    ):
        assert secret not in text, secret
    assert scrubbed.headers["Authorization"] == "Bearer ***"
    assert "JobId=j" in scrubbed.uri
    assert b"JobId=j" in scrubbed.body
    assert scrub_request(scrubbed).uri == scrubbed.uri
    upper = scrub_request(_request("https://x/", {"Authorization": "acs LTAIkey:c2lnbmF0dXJl"}))
    assert upper.headers["Authorization"] == "acs ***"


def test_a_cassette_without_interactions_is_rejected_with_its_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("interactions: []\nversion: 1\n", "utf-8")
    with pytest.raises(CassetteError, match=r"empty\.yaml:1"):
        load_cassette(path)


def test_scrubbing_a_scrubbed_request_changes_nothing() -> None:
    request = _request(
        f"https://imm.cn-shanghai.aliyuncs.com/?Signature=x&u={SIGNED_URL}",
        {"Authorization": V3_AUTH},
    )
    once = scrub_request(request)
    snapshot = (once.uri, dict(once.headers))
    twice = scrub_request(once)
    assert (twice.uri, dict(twice.headers)) == snapshot


def test_no_committed_cassette_holds_a_credential() -> None:
    for path in CASSETTES.rglob("*.yaml"):
        text = path.read_text("utf-8")
        assert "Credential=***," in text or "provenance" in path.name
        for marker in ("aliconform-documentation", "LTAI", "Signature=0", "Signature=1"):
            assert marker not in text, f"{path}: {marker}"


# --- reading RPC calls and matching ----------------------------------------------------------


def test_v3_and_v2_requests_read_as_the_same_call() -> None:
    v3 = read_rpc_call(
        "https://ice.cn-shanghai.aliyuncs.com/?JobId=j-1",
        {
            "x-acs-action": "QuerySmarttagJob",
            "x-acs-version": "2020-11-09",
            "Authorization": V3_AUTH,
        },
    )
    v2 = read_rpc_call(
        "https://ice.cn-shanghai.aliyuncs.com/?Action=QuerySmarttagJob&Format=json&Version=2020-11-09"
        "&Timestamp=2026-11-21T05%3A03%3A01Z&SignatureNonce=n&JobId=j-1&SignatureMethod=HMAC-SHA1"
        "&SignatureVersion=1.0&AccessKeyId=k&Signature=s",
        {},
    )
    assert (v3.action, v3.version, dict(v3.params), v3.signing) == (
        "QuerySmarttagJob",
        "2020-11-09",
        {"JobId": "j-1"},
        "v3",
    )
    assert (v2.action, v2.version, dict(v2.params), v2.signing) == (
        v3.action,
        v3.version,
        dict(v3.params),
        "v2",
    )


def _replay_with(cassette: Path, uri: str, headers: dict[str, str]) -> requests.Response:
    with rpc_vcr().use_cassette(str(cassette)), block_network():
        return requests.post(uri, headers=headers, timeout=5)


def test_matching_ignores_signature_nonce_date_and_host() -> None:
    cassette = MODERATION / "doc-error-resource-not-found.yaml"
    recorded = load_cassette(cassette).interactions[0].request
    response = _replay_with(
        cassette,
        recorded.uri.replace("cn-shanghai", "cn-beijing"),
        {
            "x-acs-action": "GetVideoModerationResult",
            "x-acs-version": "2020-09-30",
            "x-acs-date": "2030-01-01T00:00:00Z",
            "x-acs-signature-nonce": "another-nonce",
            "Authorization": V3_AUTH,
        },
    )
    assert response.status_code == 400
    assert response.json()["Code"] == "ResourceNotFound"


def test_a_request_that_is_no_rpc_call_is_matched_by_method_and_url(tmp_path: Path) -> None:
    # Code under test may fetch an OSS object beside its SDK calls: such a request names no
    # action, so it is the same request only with the same method, host, path and query.
    def plain(path: str, answer: str) -> dict[str, object]:
        return {
            "request": {
                "body": None,
                "headers": {},
                "method": "GET",
                "uri": f"http://127.0.0.1:9{path}",
            },
            "response": {
                "status": {"code": 200, "message": "OK"},
                "headers": {"Content-Type": ["text/plain"]},
                "body": {"string": answer},
            },
        }

    cassette = tmp_path / "plain.yaml"
    cassette.write_text(
        yaml.safe_dump({"version": 1, "interactions": [plain("/a.jpg", "a"), plain("/b.jpg", "b")]})
    )
    with rpc_vcr().use_cassette(str(cassette)), block_network():
        assert requests.get("http://127.0.0.1:9/b.jpg", timeout=5).text == "b"
        assert requests.get("http://127.0.0.1:9/a.jpg", timeout=5).text == "a"
        for method, url in [
            ("POST", "https://elsewhere.example.com/upload"),
            ("GET", "http://127.0.0.1:9/c.jpg"),
            ("GET", "http://127.0.0.1:9/a.jpg?x-oss-process=resize"),
            ("POST", "http://127.0.0.1:9/a.jpg"),
        ]:
            with pytest.raises(CannotOverwriteExistingCassetteException) as refused:
                requests.request(method, url, timeout=5)
            assert "not an RPC call" in str(refused.value)


def test_a_miss_names_the_nearest_recorded_request_and_what_differs() -> None:
    cassette = MODERATION / "doc-error-resource-not-found.yaml"
    recorded = load_cassette(cassette).interactions[0].request
    uri = recorded.uri.replace("TaskId=VideoModeration", "TaskId=Other")
    with pytest.raises(CannotOverwriteExistingCassetteException) as caught:
        _replay_with(
            cassette,
            uri,
            {"x-acs-action": "GetVideoModerationResult", "x-acs-version": "2020-09-30"},
        )
    message = str(caught.value)
    assert "Closest recorded requests" in message
    assert "rpc_params differs: TaskId: sent 'Other-" in message
    assert "recorded 'VideoModeration-" in message


@pytest.mark.parametrize(
    ("uri", "headers", "exchange"),
    [
        ("http://100.100.100.200/latest/meta-data/ram/security-credentials/role", {}, True),
        ("https://sts.aliyuncs.com/?Action=AssumeRoleWithOIDC&OIDCToken=eyJx", {}, True),
        ("https://sts-vpc.cn-shanghai.aliyuncs.com/", {"x-acs-action": "AssumeRole"}, True),
        ("https://proxy.example/?Action=AssumeRole&RoleArn=acs:ram::1:role/r", {}, True),
        ("http://127.0.0.1:9/credentials", {}, True),  # ALIBABA_CLOUD_CREDENTIALS_URI
        ("http://127.0.0.1:9/", {"x-acs-action": "QuerySmarttagJob"}, False),
        ("https://imm.cn-shanghai.aliyuncs.com/?Action=GetImageModerationResult", {}, False),
    ],
)
def test_the_credential_chain_s_exchanges_are_never_recorded(
    uri: str, headers: dict[str, str], exchange: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_CREDENTIALS_URI", "http://127.0.0.1:9/credentials")
    kept = recordable(_request(uri, headers))
    assert (kept is None) is exchange


def test_rpc_vcr_records_the_call_and_not_the_credentials_fetched_for_it(tmp_path: Path) -> None:
    body = b'{"RequestId":"r","AccessKeyId":"STS.NTmpSecretKeyId1234","SecurityToken":"CAIS1"}'
    cassette = tmp_path / "recorded.yaml"
    with serving_json(body) as base, rpc_vcr(record_mode="all").use_cassette(str(cassette)):
        requests.post(f"{base}/?Action=AssumeRoleWithOIDC&OIDCToken=eyJsecret", timeout=5)
        requests.post(f"{base}/?Action=QuerySmarttagJob&JobId=j-1", timeout=5)
    (interaction,) = load_cassette(cassette).interactions
    assert "Action=QuerySmarttagJob" in interaction.request.uri
    assert "eyJsecret" not in cassette.read_text("utf-8")


@pytest.mark.parametrize(
    "query", ["Action=AssumeRole&RoleArn=acs:ram::1:role/r", "Action=AssumeRoleWithOIDC"]
)
def test_replaying_never_sends_the_credential_chain_s_exchanges(query: str) -> None:
    """vcrpy sends a request its hook drops to the network, in record mode none as well; a
    replay must answer every request from the cassette or refuse it, these too."""
    cassette = CASSETTES / "imm" / "GetVideoModerationResult" / "doc-example-success.yaml"
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        with (
            rpc_vcr().use_cassette(str(cassette)),
            pytest.raises(CannotOverwriteExistingCassetteException),
        ):
            requests.post(f"http://127.0.0.1:{port}/?{query}", timeout=1)
        with pytest.raises(BlockingIOError):  # nothing ever connected
            listener.accept()


def test_a_recording_that_cannot_be_saved_leaves_the_cassette_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rpc_vcr saves atomically: a full disk mid-save leaves the previous cassette whole
    (vcrpy's own persister rewrites the file in place)."""
    cassette = tmp_path / "recorded.yaml"
    shutil.copy(MODERATION / "doc-example-success.yaml", cassette)
    before = cassette.read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    recording = rpc_vcr(record_mode="new_episodes").use_cassette(str(cassette))
    unpatched = _http_classes()
    # The recording is left first: its save raises, inside pytest.raises.
    with (  # noqa: PT012 (the save on leaving raises, not a statement inside)
        serving_json(b"{}") as base,
        pytest.raises(OSError, match="No space left"),
        recording,
    ):
        requests.post(f"{base}/?Action=GetVideoModerationResult&TaskId=t", timeout=5)
        assert _http_classes() != unpatched
        monkeypatch.setattr(os, "fsync", disk_full)
    assert cassette.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["recorded.yaml"]
    # The HTTP libraries are unpatched at once, though the context object is still alive:
    # vcrpy alone leaves them patched until the collector finds it, and then unpatches them in
    # the middle of whatever cassette is open at the time (kevin1024/vcrpy#1051).
    assert _http_classes() == unpatched
    assert recording is not None


def _http_classes() -> tuple[object, ...]:
    """The connection classes vcrpy swaps for its own while a cassette is open."""
    import http.client

    import urllib3.connectionpool

    return (
        http.client.HTTPConnection,
        urllib3.connectionpool.HTTPConnectionPool.ConnectionCls,
        urllib3.connectionpool.HTTPSConnectionPool.ConnectionCls,
    )


def test_plain_vcrpy_replays_a_cassette_with_its_default_matching() -> None:
    cassette = MODERATION / "doc-example-success.yaml"
    recorded = load_cassette(cassette).interactions[0]
    with vcr.use_cassette(str(cassette), record_mode="none"):
        response = requests.post(recorded.request.uri, timeout=5)
    assert response.status_code == 200
    assert response.json()["TaskType"] == "VideoModeration"


def test_the_network_is_blocked_while_replaying() -> None:
    with block_network(), pytest.raises(NetworkBlockedError, match="blocked while replaying"):
        socket.create_connection(("192.0.2.1", 443), timeout=1)
    with block_network(allow_loopback=True):
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen()
        socket.create_connection(server.getsockname(), timeout=1).close()
        server.close()
        assert socket.getaddrinfo("localhost", 80)
        # Datagrams and name lookups reach the network too.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as datagram:
            with pytest.raises(NetworkBlockedError):
                datagram.sendto(b"x", ("192.0.2.1", 53))
            with pytest.raises(NetworkBlockedError):
                datagram.sendto(b"x", 0, ("192.0.2.1", 53))
            datagram.sendto(b"x", ("127.0.0.1", 9))
        with pytest.raises(NetworkBlockedError):
            socket.getaddrinfo("imm.cn-shanghai.aliyuncs.com", 443)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as datagram:
            with pytest.raises(NetworkBlockedError):
                datagram.sendmsg([b"x"], [], 0, ("192.0.2.1", 53))
            datagram.sendmsg([b"x"], [], 0, ("127.0.0.1", 9))
        # The older lookups ask a DNS server as getaddrinfo does.
        for lookup, argument in [
            (socket.gethostbyname, "leak.example.com"),
            (socket.gethostbyname_ex, "leak.example.com"),
            (socket.gethostbyaddr, "192.0.2.1"),
        ]:
            with pytest.raises(NetworkBlockedError):
                lookup(argument)  # type: ignore[operator]
        with pytest.raises(NetworkBlockedError):
            socket.getnameinfo(("192.0.2.1", 443), 0)
        assert socket.gethostbyname("localhost").startswith("127.")
    assert socket.getaddrinfo.__module__ == "socket"  # put back afterwards
    assert socket.gethostbyname("localhost").startswith("127.")


def test_an_ipv4_mapped_loopback_address_is_loopback() -> None:
    # A dual-stack socket reaches 127.0.0.1 as ::ffff:127.0.0.1.
    from aliconform.cassettes.network import _is_loopback

    assert _is_loopback(("::ffff:127.0.0.1", 80, 0, 0))
    assert _is_loopback("::1")
    assert not _is_loopback(("::ffff:192.0.2.1", 80, 0, 0))
    try:
        dual_stack = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    except OSError:  # a machine without IPv6: the address check above is the test
        return
    with dual_stack as datagram, block_network(allow_loopback=True):
        datagram.sendto(b"x", ("::ffff:127.0.0.1", 9))
        with pytest.raises(NetworkBlockedError):
            datagram.sendto(b"x", ("::ffff:192.0.2.1", 9))


def test_a_dot_localhost_name_is_looked_up_as_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    """A *.localhost name is loopback (RFC 6761); the resolver is asked for localhost, so the
    name itself, which could spell anything, never reaches a DNS server."""
    asked: list[object] = []
    resolve = socket.getaddrinfo

    def recording(host: object, *args: object, **kwargs: object) -> object:
        asked.append(host)
        return resolve(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", recording)
    with block_network(allow_loopback=True):
        socket.getaddrinfo("secret-value.localhost", 80)
        socket.getaddrinfo(b"other.localhost", 80)
    assert asked == ["localhost", "localhost"]


# --- files, provenance, replay -----------------------------------------------------------------


def test_a_broken_cassette_is_reported_with_file_and_line(cassettes_copy: Path) -> None:
    path = cassettes_copy / "imm" / "GetVideoModerationResult" / "doc-example-success.yaml"
    path.write_text(path.read_text().replace("      code: 200", "      code: two hundred"), "utf-8")
    with pytest.raises(CassetteError) as caught:
        load_cassette(path)
    (issue,) = caught.value.issues
    assert issue.file.endswith("doc-example-success.yaml")
    assert issue.line is not None
    assert issue.key_path == "interactions[0].response.status.code"


def _without(*keys: str) -> Callable[[str], str]:
    """An edit that deletes one key of the first interaction (its path as dotted keys)."""

    def edit(text: str) -> str:
        data = yaml.safe_load(text)
        *parents, last = keys
        node = data["interactions"][0]
        for key in parents:
            node = node[key]
        del node[last]
        return yaml.safe_dump(data)

    return edit


_HAND_EDITS = [
    # (what a hand edit did, the edit, the key path reported): each would reach vcrpy otherwise,
    # which plays back what is written and fails with a traceback
    ("a status quoted", lambda t: t.replace("      code: 200", "      code: '200'"), "code"),
    ("a status no HTTP has", lambda t: t.replace("      code: 200", "      code: 2000"), "code"),
    *(
        (f"the {' '.join(keys)} removed", _without(*keys), f"interactions[0].{'.'.join(keys)}")
        for keys in [
            ("response", "body"),
            ("request", "body"),  # vcrpy: Request() missing argument 'body'
            ("request", "headers"),
            ("response", "headers"),
            ("response", "status", "message"),  # vcrpy: KeyError 'message'
        ]
    ),
    ("a URI that is not http(s)", lambda t: t.replace("uri: https://", "uri: ht!tp://"), "uri"),
    *(
        (
            f"a URI with {what}",
            lambda t, host=host: t.replace("imm.cn-shanghai.aliyuncs.com/", host),
            "uri",
        )
        for what, host in [
            ("a port past 65535", "127.0.0.1:99999/"),
            ("an unclosed IPv6 bracket", "[::1/"),
            ("a port but no host", ":80/"),
        ]
    ),
    (
        "a line break in a request header",
        lambda t: t.replace("      - '0'\n", '      - "0\\nX-Injected: 1"\n', 1),
        "interactions[0].request.headers",
    ),
]


@pytest.mark.parametrize(("what", "edit", "key"), _HAND_EDITS, ids=[e[0] for e in _HAND_EDITS])
def test_a_hand_edit_vcrpy_cannot_play_is_a_problem_naming_its_key(
    cassettes_copy: Path, contracts: ContractSet, what: str, edit: Callable[[str], str], key: str
) -> None:
    path = cassettes_copy / "imm" / "GetVideoModerationResult" / "doc-example-success.yaml"
    edited = edit(path.read_text("utf-8"))
    assert edited != path.read_text("utf-8"), what
    path.write_text(edited, "utf-8")
    run = replay_all(cassettes_copy, contracts)
    (problem,) = run.problems
    assert problem.path.endswith("doc-example-success.yaml")
    assert f"{key}:" in problem.message
    assert len(run.interactions) == len(discover_cassettes(CASSETTES)) - 1


def _two_interactions(path: Path, edit_second: Callable[[dict[str, Any]], None]) -> None:
    """The cassette with its first interaction drifted (an undocumented Suggestion) and a
    second one, a copy of the first edited."""
    data = yaml.safe_load(path.read_text("utf-8"))
    first = data["interactions"][0]
    body = first["response"]["body"]
    body["string"] = body["string"].replace('"block"', '"blockz"', 1)
    second = copy.deepcopy(first)
    edit_second(second)
    data["interactions"].append(second)
    path.write_text(yaml.safe_dump(data), "utf-8")


def test_a_request_replay_cannot_send_as_recorded_is_a_problem_and_the_rest_is_kept(
    cassettes_copy: Path, contracts: ContractSet
) -> None:
    """A URL requests sends re-encoded is no match for its own recording. The interactions
    before it keep their findings; the problem quotes the request scrubbed, names its file
    once, and gives no record-mode advice, which a replay does not take."""
    key_id, token = "LTAI5t" + "Q8plantedKey1234567", "CAIS" + "x" * 100
    path = cassettes_copy / "imm" / "GetImageModerationResult" / "doc-example-success.yaml"

    def signed_oss_url(interaction: dict[str, Any]) -> None:
        interaction["request"].update(
            method="GET",
            headers={},
            uri="https://bucket.oss-cn-shanghai.aliyuncs.com/a|b.json"
            f"?OSSAccessKeyId={key_id}&Expires=1&Signature=abc%2Bdef&security-token={token}",
        )

    _two_interactions(path, signed_oss_url)
    run = replay_all(cassettes_copy, contracts)
    (problem,) = run.problems
    assert problem.path.endswith("GetImageModerationResult/doc-example-success.yaml")
    assert problem.message.startswith("interactions[1]: Can't play back this request")
    assert "a%7Cb.json" in problem.message
    assert "record it again" in problem.message
    assert "doc-example-success.yaml" not in problem.message
    assert "record_mode='new_episodes'" not in problem.message
    assert key_id not in problem.message
    assert token not in problem.message
    drifted = [i for i in run.interactions if i.ref.path == path]
    assert [i.index for i in drifted] == [0]
    assert [f.kind.value for f in drifted[0].findings] == ["undocumented-enum-value"]


def test_a_cassette_that_recorded_the_credential_chain_is_a_problem(
    cassettes_copy: Path, contracts: ContractSet
) -> None:
    """Plain vcrpy on an ECS instance records the metadata service's answer (credentials
    and all); it is no answer of the operation, and a replay must not judge it as one."""
    path = cassettes_copy / "imm" / "GetImageModerationResult" / "doc-example-success.yaml"

    def metadata(interaction: dict[str, Any]) -> None:
        interaction["request"].update(
            method="GET", headers={}, uri="http://100.100.100.200/latest/meta-data/ram/role"
        )

    _two_interactions(path, metadata)
    (problem,) = replay_all(cassettes_copy, contracts).problems
    assert "interactions[1]: GET http://100.100.100.200/latest/meta-data/ram/role is the " in (
        problem.message
    )
    assert "credential chain fetching credentials" in problem.message


def test_replay_reads_no_proxy_or_ca_bundle_from_the_environment(
    cassettes_copy: Path, contracts: ContractSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It sends nothing: a proxy vcrpy's playback never uses (socks, without its extra
    installed) or a CA bundle that does not exist must not stop it."""
    monkeypatch.setenv("ALL_PROXY", "socks5://127.0.0.1:9")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem")
    run = replay_all(cassettes_copy, contracts)
    assert run.problems == []
    assert len(run.interactions) == len(discover_cassettes(CASSETTES))


def test_an_interaction_the_http_stack_refuses_is_a_problem_not_a_crash(
    cassettes_copy: Path, contracts: ContractSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise ValueError(f"refused at {args[1].url}")  # type: ignore[attr-defined]

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", refuse)
    run = replay_all(cassettes_copy, contracts)
    assert run.interactions == []
    assert len(run.problems) == len(discover_cassettes(CASSETTES))
    assert all(
        p.message.startswith("interactions[0]: cannot be played back: ValueError: refused at ")
        for p in run.problems
    )


def test_the_replay_suite_fails_a_broken_cassette_in_its_own_test(tmp_path: Path) -> None:
    """A cassette that cannot be read, or a file out of place, fails a test named for it; it
    never stops the collection (which would skip every other test of the run)."""
    repo = tmp_path / "repo"
    (repo / "suites").mkdir(parents=True)
    shutil.copy(REPO / "suites" / "test_replay.py", repo / "suites")
    shutil.copy(REPO / "drift-policy.yaml", repo)
    shutil.copytree(REPO / "contracts", repo / "contracts")
    shutil.copytree(CASSETTES, repo / "cassettes")
    broken = Path("ice/QuerySmarttagJob/doc-example-success.yaml")
    target = repo / "cassettes" / broken
    target.write_bytes(target.read_bytes()[:700])
    (repo / "cassettes" / "imm" / "stray.yaml").write_text("interactions: []\n", "utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "conforms"],
        cwd=repo / "suites",
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    readable = [ref for ref in discover_cassettes(CASSETTES) if not ref.path.match(str(broken))]
    interactions = sum(len(load_cassette(ref.path).interactions) for ref in readable)
    assert f"2 failed, {interactions} passed" in summary, summary
    assert "QuerySmarttagJob/doc-example-success.yaml" in result.stdout
    assert "cassettes/imm/stray.yaml" in result.stdout


def test_cassettes_with_odd_names_are_replayed_and_shown_escaped(
    cassettes_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A name with bytes that are not UTF-8 crashed vcrpy; one with an escape character
    reached the terminal and summary.md raw."""
    directory = os.fsencode(cassettes_copy / "imm" / "GetImageModerationResult")
    source = directory + b"/doc-example-success.yaml"
    for name in (b"bad\xff.yaml", b"esc\x1b[31m.yaml"):
        shutil.copyfile(source, directory + b"/" + name)
    out = tmp_path / "r"
    code = main(["replay", "--cassettes", str(cassettes_copy), "--out", str(out), *_POLICY])
    printed = capsys.readouterr().out
    assert code == 0
    summary = (out / "summary.md").read_text("utf-8")
    for text in (printed, summary):
        assert "\x1b" not in text
    assert "bad\\xff.yaml" in printed
    assert "esc\\x1b[31m.yaml" in " ".join(printed.split())
    sources = {s["id"] for s in json.loads((out / "drift.json").read_text("utf-8"))["sources"]}
    assert any("bad\\xff.yaml#0" in source for source in sources)


def test_a_cassette_changed_behind_its_provenance_is_noticed(
    cassettes_copy: Path, contracts: ContractSet
) -> None:
    path = cassettes_copy / "imm" / "GetVideoModerationResult" / "doc-error-resource-not-found.yaml"
    edit_response_body(path, lambda body: body.replace("is not found.", "was not found."))
    run = replay_all(cassettes_copy, contracts)
    assert len(run.stale_provenance) == 1
    assert run.stale_provenance[0].endswith("doc-error-resource-not-found.yaml")


def test_a_conforming_hand_edit_is_named_on_the_console_and_in_the_cassette_list(
    cassettes_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It still conforms, so the verdict stands; but the replay no longer shows what the
    service answered, and the person reading the run must see that without opening a report."""
    edited = "cassettes/imm/GetVideoModerationResult/doc-error-resource-not-found.yaml"
    edit_response_body(
        cassettes_copy.parent / edited, lambda body: body.replace("is not found.", "was not found.")
    )
    code = main(
        ["replay", "--cassettes", str(cassettes_copy), "--out", str(tmp_path / "r"), *_POLICY]
    )
    out = " ".join(capsys.readouterr().out.split())
    assert code == 0
    assert (
        f"provenance {edited}: the cassette changed after its provenance was written "
        "(digest differs)" in out
    )
    assert out.count("provenance cassettes/") == 1

    assert main(["cassettes", "list", "--cassettes", str(cassettes_copy), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == len(discover_cassettes(CASSETTES))
    assert [r["cassette"] for r in rows if r["provenance"] != "current"] == [edited]
    assert main(["cassettes", "list", "--cassettes", str(cassettes_copy)]) == 0
    assert "(edited" in capsys.readouterr().out  # the table folds long cells


def test_the_cassette_list_shows_an_unreadable_cassette_and_the_rest(
    cassettes_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = cassettes_copy / "imm" / "GetImageModerationResult" / "broken.yaml"
    broken.write_text("interactions: [\n", "utf-8")
    assert main(["cassettes", "list", "--cassettes", str(cassettes_copy), "--json"]) == 2
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == len(discover_cassettes(CASSETTES)) + 1
    [unreadable] = [r for r in rows if r["error"]]
    assert unreadable["cassette"].endswith("/broken.yaml")
    assert unreadable["path"] == str(broken)  # where it can be opened from here
    assert f"{broken}:2" in unreadable["error"]
    assert main(["cassettes", "list", "--cassettes", str(cassettes_copy)]) == 2
    assert "unreadable" in capsys.readouterr().out


def test_the_cassette_list_says_it_is_the_provenance_that_cannot_be_read(
    cassettes_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A readable cassette beside a broken sidecar: the origin is unknown because the
    provenance cannot be read, not because there is none."""
    cassette = cassettes_copy / "imm" / "GetImageModerationResult" / "doc-example-success.yaml"
    sidecar = cassette.with_name("doc-example-success.provenance.yaml")
    sidecar.write_text("origin: [\n", "utf-8")
    assert main(["cassettes", "list", "--cassettes", str(cassettes_copy), "--json"]) == 2
    [row] = [r for r in json.loads(capsys.readouterr().out) if r["error"]]
    assert (row["path"], row["problem"], row["origin"]) == (
        str(cassette),
        "unreadable provenance",
        "unknown",
    )
    assert f"{sidecar}:2" in row["error"]
    assert main(["cassettes", "list", "--cassettes", str(cassettes_copy)]) == 2
    out = " ".join(capsys.readouterr().out.split())
    assert "unknown (unreadable provenance)" in out
    assert "no provenance" not in out


def test_a_provenance_of_another_operation_or_scenario_is_not_taken_for_this_one(
    cassettes_copy: Path, contracts: ContractSet, capsys: pytest.CaptureFixture[str]
) -> None:
    """A sidecar copied from another cassette would describe it: its origin, its date."""
    cassette = cassettes_copy / "imm" / "GetImageModerationResult" / "doc-example-success.yaml"
    sidecar = cassette.with_name("doc-example-success.provenance.yaml")
    text = sidecar.read_text("utf-8")
    sidecar.write_text(
        text.replace("operation: GetImageModerationResult", "operation: QuerySmarttagJob"),
        "utf-8",
    )
    (problem,) = replay_all(cassettes_copy, contracts).problems
    line = next(i for i, row in enumerate(text.splitlines(), 1) if row.startswith("operation:"))
    assert f"{sidecar}:{line}" in problem.message
    assert (
        "operation: QuerySmarttagJob, but it is beside a GetImageModerationResult cassette"
        in problem.message
    )
    sidecar.write_text(text.replace("scenario: doc-example-success", "scenario: other"), "utf-8")
    (problem,) = replay_all(cassettes_copy, contracts).problems
    assert "scenario: other, but it is beside the cassette doc-example-success.yaml" in (
        problem.message
    )
    assert main(["cassettes", "list", "--cassettes", str(cassettes_copy), "--json"]) == 2
    [row] = [r for r in json.loads(capsys.readouterr().out) if r["error"]]
    assert row["problem"] == "unreadable provenance"


def test_a_provenance_left_without_its_cassette_is_reported_by_the_list_and_replay(
    cassettes_copy: Path, contracts: ContractSet, capsys: pytest.CaptureFixture[str]
) -> None:
    """Deleting a cassette and not its sidecar leaves a provenance that would describe
    whatever is recorded under that name next."""
    cassette = cassettes_copy / "imm" / "GetImageModerationResult" / "doc-example-success.yaml"
    sidecar = cassette.with_name("doc-example-success.provenance.yaml")
    cassette.unlink()
    reason = "a provenance without its cassette doc-example-success.yaml: restore it, or delete"
    (problem,) = replay_all(cassettes_copy, contracts).problems
    assert problem.path.endswith("GetImageModerationResult/doc-example-success.provenance.yaml")
    assert reason in problem.message
    assert main(["cassettes", "list", "--cassettes", str(cassettes_copy), "--json"]) == 2
    [row] = [r for r in json.loads(capsys.readouterr().out) if r["error"]]
    assert row["path"] == display_path(sidecar)
    assert reason in row["error"]


def test_the_cassette_list_of_an_empty_directory_says_how_to_get_cassettes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cassettes", "list", "--cassettes", str(tmp_path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"{tmp_path}: no cassettes found" in out
    assert "aliconform cassettes derive" in out
    assert "┃" not in out  # no empty table
    assert main(["cassettes", "list", "--cassettes", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_replay_reports_a_misfiled_cassette_and_goes_on(
    cassettes_copy: Path, contracts: ContractSet
) -> None:
    source = cassettes_copy / "imm" / "GetVideoModerationResult" / "doc-example-success.yaml"
    misfiled = cassettes_copy / "imm" / "GetImageModerationResult" / "misfiled.yaml"
    shutil.copy(source, misfiled)
    run = replay_all(cassettes_copy, contracts)
    (problem,) = run.problems
    assert problem.path.endswith("misfiled.yaml")
    assert (
        "calls GetVideoModerationResult, but the cassette is filed under GetImageModerationResult"
        in problem.message
    )
    assert len(run.interactions) == len(discover_cassettes(CASSETTES))


def test_replay_and_the_cassette_list_report_every_misplaced_file_and_go_on(
    cassettes_copy: Path, contracts: ContractSet, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stray file, a .yml name, an operation without a contract, a cassette of another
    operation and a truncated one are each a problem of their own, in replay and in the list
    alike; none stops either, and each message names its file once."""
    imm = cassettes_copy / "imm"
    source = imm / "GetVideoModerationResult" / "doc-example-success.yaml"
    truncated = cassettes_copy / "ice" / "QuerySmarttagJob" / "doc-example-success.yaml"
    truncated.write_bytes(truncated.read_bytes()[:700])  # its provenance stays as it was
    placed = {
        imm / "stray.yaml": ("misplaced", "a cassette belongs at <product>/<Operation>/"),
        imm / "GetVideoModerationResult" / "other.yml": (
            "misplaced",
            "a cassette's name ends in .yaml: rename it to other.yaml",
        ),
        imm / "GetFoo" / "x.yaml": ("misfiled", "no contract for operation 'GetFoo'"),
        imm / "GetVideoModerationResult" / "y.provenance.yml": (
            "misplaced",
            "a provenance's name ends in .yaml: rename it to y.provenance.yaml",
        ),
        imm / "GetImageModerationResult" / "moved.yaml": (
            "misfiled",
            "interactions[0]: the request calls GetVideoModerationResult, but the cassette is "
            "filed under GetImageModerationResult",
        ),
    }
    for path in placed:
        path.parent.mkdir(exist_ok=True)
        shutil.copy(source, path)
    run = replay_all(cassettes_copy, contracts)
    problems = {problem.path.rsplit("/", 2)[-1]: problem.message for problem in run.problems}
    assert set(problems) == {
        "stray.yaml",
        "other.yml",
        "x.yaml",
        "y.provenance.yml",
        "moved.yaml",
        "doc-example-success.yaml",
    }
    # named from the cassettes directory's name on, as every other problem and source is
    assert {p.path for p in run.problems} >= {
        f"{cassettes_copy.name}/imm/stray.yaml",
        f"{cassettes_copy.name}/imm/GetVideoModerationResult/other.yml",
    }
    for path, (_, reason) in placed.items():
        assert reason in problems[path.name]
    truncated_problem = problems["doc-example-success.yaml"]
    assert truncated_problem.startswith("line 2, column 3: interactions[0].request.method: missing")
    assert "doc-example-success.yaml" not in truncated_problem  # named once, by the problem
    assert len(run.interactions) == len(discover_cassettes(CASSETTES)) - 1

    assert main(["cassettes", "list", "--cassettes", str(cassettes_copy), "--json"]) == 2
    rows = {row["path"]: row for row in json.loads(capsys.readouterr().out)}
    for path, (problem, reason) in placed.items():
        row = rows[display_path(path)]
        assert row["problem"] == problem
        assert reason in row["error"]
    row = rows[display_path(truncated)]
    assert row["problem"] == "unreadable"
    # the provenance is read on its own: where the cassette came from is still shown
    assert (row["origin"], row["provenance"]) == (
        "documentation",
        "not checked (the cassette cannot be read)",
    )
    assert sum(1 for row in rows.values() if row["problem"]) == 6
    assert rows[display_path(imm / "stray.yaml")]["cassette"] == (
        f"{cassettes_copy.name}/imm/stray.yaml"
    )


def test_a_cassette_edited_to_drift_fails_replay_naming_operation_path_and_kind(
    cassettes_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = cassettes_copy / "imm" / "GetImageModerationResult" / "doc-example-success.yaml"
    edit_response_body(path, lambda body: body.replace('"Status": "Succeeded"', '"Status": 3'))
    code = main(
        [
            "replay",
            "--cassettes",
            str(cassettes_copy),
            "--out",
            str(tmp_path / "out"),
            "--contracts",
            str(REPO / "contracts"),
            "--policy",
            str(REPO / "drift-policy.yaml"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "breaking GetImageModerationResult type-mismatch at /Status" in out
    assert (tmp_path / "out" / "drift.html").is_file()


_POLICY = ("--contracts", str(REPO / "contracts"), "--policy", str(REPO / "drift-policy.yaml"))


def test_replay_exit_codes_for_a_clean_run_and_a_missing_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = [
        "--contracts",
        str(REPO / "contracts"),
        "--policy",
        str(REPO / "drift-policy.yaml"),
        "--out",
        str(tmp_path / "r"),
    ]
    assert main(["replay", "--cassettes", str(CASSETTES), *common]) == 0
    assert main(["replay", "--cassettes", str(tmp_path / "nowhere"), *common]) == 2
    assert "nowhere: no such directory" in capsys.readouterr().err
    a_file = tmp_path / "cassette.yaml"
    a_file.write_text("", "utf-8")
    assert main(["replay", "--cassettes", str(a_file), *common]) == 2
    assert "cassette.yaml: a file, not the cassettes directory" in capsys.readouterr().err
    # One level too deep: the error says which directory was meant.
    assert main(["replay", "--cassettes", str(CASSETTES / "imm"), *common]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "(give " in err
    assert ", the directory above imm)" in err


def test_replay_names_expired_and_unused_waivers_on_the_console(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "drift-policy.yaml"
    policy.write_text(
        "format_version: 1\nextends: aliconform\nwaivers:\n"
        "  - id: old-one\n    operation: QuerySmarttagJob\n    kind: undocumented-field\n"
        "    reason: a field the service sent for a while\n    expires: 2020-01-01\n"
        "  - id: never-matches\n    operation: QuerySmarttagJob\n    kind: type-mismatch\n"
        "    path: /Nothing\n    reason: gone since\n",
        "utf-8",
    )
    options = ["--cassettes", str(CASSETTES), "--policy", str(policy), "--out", str(tmp_path / "r")]
    assert main(["replay", *options]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert "expired waiver old-one (expired 2020-01-01): a field the service sent" in printed
    assert "unused waiver never-matches: it matched nothing in this run" in printed


# --- derivation from the documentation ----------------------------------------------------------

_VOLATILE_HEADERS = {"x-acs-date", "Date", "user-agent"}


def _comparable(path: Path) -> list[dict[str, object]]:
    rows = []
    for interaction in load_cassette(path).interactions:
        data = interaction.model_dump()
        for part in ("request", "response"):
            data[part]["headers"] = {
                k: v for k, v in data[part]["headers"].items() if k not in _VOLATILE_HEADERS
            }
        rows.append(data)
    return rows


def test_committed_documentation_cassettes_match_a_fresh_derivation(
    tmp_path: Path, contracts: ContractSet
) -> None:
    """Changing a contract's example without re-deriving (aliconform cassettes derive) fails here."""
    fresh = derive_documentation_cassettes(contracts, tmp_path).written
    committed = {
        ref.path.relative_to(CASSETTES)
        for ref in discover_cassettes(CASSETTES)
        if ref.scenario.startswith("doc-")
    }
    assert {ref.path.relative_to(tmp_path) for ref in fresh} == committed
    for ref in fresh:
        relative = ref.path.relative_to(tmp_path)
        assert _comparable(ref.path) == _comparable(CASSETTES / relative), relative
        provenance = load_provenance(ref)
        assert provenance is not None
        assert provenance.origin == "documentation"
        assert provenance.interactions_sha256 == interactions_digest(load_cassette(ref.path))


def test_deriving_for_a_region_a_product_does_not_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A mistyped region would put a host that does not exist into every request: a usage
    error with a suggestion; a region only IMM documents derives IMM's cassettes and says so."""
    assert (
        main(["cassettes", "derive", "--cassettes", str(tmp_path), "--region", "cn-shangai"]) == 2
    )
    err = " ".join(capsys.readouterr().err.split())
    assert "no documented endpoint in region 'cn-shangai' (did you mean 'cn-shanghai'?)" in err
    assert "--endpoint" not in err  # derive has none to offer
    assert not tmp_path.exists() or not any(tmp_path.iterdir())
    assert (
        main(["cassettes", "derive", "--cassettes", str(tmp_path), "--region", "cn-qingdao"]) == 0
    )
    err = " ".join(capsys.readouterr().err.split())
    assert "note: ice has no documented endpoint in region 'cn-qingdao'" in err
    assert {p.name for p in tmp_path.iterdir()} == {"imm"}
    hosts = {
        interaction.request.uri.split("/?")[0]
        for path in tmp_path.rglob("doc-*.yaml")
        if not path.name.endswith(".provenance.yaml")
        for interaction in load_cassette(path).interactions
    }
    assert hosts == {"https://imm.cn-qingdao.aliyuncs.com"}


def test_deriving_again_rewrites_only_what_changed(
    tmp_path: Path, contracts: ContractSet, capsys: pytest.CaptureFixture[str]
) -> None:
    """A re-derivation's diff shows what the contracts changed, not a new clock everywhere."""
    first = derive_documentation_cassettes(
        contracts, tmp_path, now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    )
    assert first.unchanged == []
    before = {p: p.read_bytes() for p in sorted(tmp_path.rglob("*.yaml"))}
    again = derive_documentation_cassettes(contracts, tmp_path)
    assert again.written == []
    assert len(again.unchanged) == len(first.written)
    assert {p: p.read_bytes() for p in sorted(tmp_path.rglob("*.yaml"))} == before

    edited = tmp_path / "imm" / "GetVideoModerationResult" / "doc-error-resource-not-found.yaml"
    edit_response_body(edited, lambda body: body.replace("is not found.", "was not found."))
    removed = tmp_path / "ice" / "QuerySmarttagJob" / "doc-example-success.yaml"
    removed.unlink()
    code = main(["cassettes", "derive", "--cassettes", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    # Each named as it can be opened from the working directory.
    assert sorted(line.removeprefix("wrote ") for line in out.splitlines() if "wrote" in line) == [
        str(removed),
        str(edited),
    ]
    assert f"2 written, {len(first.written) - 2} unchanged" in out
    assert "is not found." in edited.read_text("utf-8")
    assert removed.is_file()


def test_deriving_removes_the_cassette_of_an_example_the_contract_lost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Renamed or deleted from the contract, an example's cassette would go on being replayed
    as the documentation's. Only derived cassettes are removed: a recording, or a doc-* file
    without a derived provenance, stays."""
    shutil.copytree(REPO / "contracts", tmp_path / "contracts")
    cassettes = tmp_path / "cassettes"
    argv = ["cassettes", "derive", "--cassettes", str(cassettes), "--contracts"]
    argv += [str(tmp_path / "contracts"), "--operation", "GetImageModerationResult"]
    assert main(argv) == 0
    directory = cassettes / "imm" / "GetImageModerationResult"
    old = directory / "doc-example-success.yaml"
    recording = directory / "live-success.yaml"
    shutil.copy(old, recording)
    sidecar = old.with_name("doc-example-success.provenance.yaml").read_text("utf-8")
    recording.with_name("live-success.provenance.yaml").write_text(
        sidecar.replace("origin: documentation", "origin: live").replace(
            "scenario: doc-example-success", "scenario: live-success"
        ),
        "utf-8",
    )
    unknown = directory / "doc-mine.yaml"  # no provenance: not known to be derived
    shutil.copy(old, unknown)
    contract = tmp_path / "contracts" / "imm" / "GetImageModerationResult.yaml"
    text = contract.read_text("utf-8")
    contract.write_text(text.replace("  - name: success", "  - name: sample-success"), "utf-8")
    capsys.readouterr()
    assert main(argv) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"removed {old} (and its provenance)" in out
    assert ", 1 removed" in out
    assert not old.exists()
    assert not old.with_name("doc-example-success.provenance.yaml").exists()
    assert (directory / "doc-example-sample-success.yaml").is_file()
    assert recording.is_file()
    assert unknown.is_file()


def test_a_derived_request_is_shaped_by_the_sdk() -> None:
    request = load_cassette(MODERATION / "doc-example-success.yaml").interactions[0].request
    headers = {k.lower(): v[0] for k, v in request.headers.items()}
    assert headers["x-acs-action"] == "GetVideoModerationResult"
    assert headers["x-acs-version"] == "2020-09-30"
    assert headers["authorization"].startswith("ACS3-HMAC-SHA256 Credential=***,")
    assert headers["x-acs-signature-nonce"] == "***"
    assert request.uri.startswith("https://imm.cn-shanghai.aliyuncs.com/?")
    assert "TaskType=VideoModeration" in request.uri


def test_the_atomic_persister_saves_in_vcrpy_format_and_leaves_no_partial_file(
    tmp_path: Path,
) -> None:
    from vcr.serializers import yamlserializer

    from aliconform.cassettes.store import AtomicPersister

    source = MODERATION / "doc-example-success.yaml"
    requests_, responses = AtomicPersister.load_cassette(source, yamlserializer)
    target = tmp_path / "imm" / "GetVideoModerationResult" / "copy.yaml"
    AtomicPersister.save_cassette(
        target, {"requests": requests_, "responses": responses}, yamlserializer
    )
    assert [p.name for p in target.parent.iterdir()] == ["copy.yaml"]
    assert load_cassette(target).interactions == load_cassette(source).interactions


def test_the_runs_own_credentials_are_scrubbed_wherever_an_answer_quotes_them() -> None:
    """Patterns know the shapes of keys; a service may quote the caller's key or secret in any
    form (a message, an echoed Basic header, a reason phrase). While a recording runs, the
    resolved values themselves are scrubbed, in the forms an answer carries them."""
    key_id, secret = "LTAI5t" + "Qm3Hx8Kp2Vw9Rz7Ynb", "Zq8wX3vB7nM1" + "kL9pR4tY6uI2oE5aS0"
    basic = base64.b64encode(f"{key_id}:{secret}".encode()).decode()
    texts = [
        f"User {key_id} is not authorized",
        f"key secret was {secret} here",
        f"Basic {basic}",
        f"echo={quote(secret + '/=', safe='')}",
    ]
    with scrubbing_known_secrets(key_id, secret, None, "short"):
        scrubbed = [scrub_text(text) for text in texts]
        response = {
            "status": {"code": 200, "message": f"OK {secret}"},
            "headers": {f"X-{secret}": ["1"], "X-Echo": [secret]},
            "body": {"string": f'{{"Message": "{secret}"}}'.encode()},
        }
        recorded = json.dumps(scrub_response(response), default=str)
        assert scrub_text("a short word") == "a short word"  # too short to be scrubbed
    for text in [*scrubbed, recorded]:
        assert key_id not in text
        assert secret not in text
        assert basic.rstrip("=") not in text
    assert scrubbed[0] == "User *** is not authorized"
    assert scrub_text(f"key secret was {secret}") == f"key secret was {secret}"  # only in a run
