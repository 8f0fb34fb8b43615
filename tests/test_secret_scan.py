"""The secret scan: each rule catches its credential in a cassette, a JSON and an HTML report;
placeholders, digests and ids pass; hits never show a secret; bad paths and binaries.

Every credential here is a fake generated at test time, so that this file holds none.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from detect_secrets.settings import get_settings
from markupsafe import escape
from vcr.serializers import yamlserializer

from aliconform import AliconformError, ContractSet
from aliconform.cassettes import replay_all
from aliconform.cassettes.scrub import scrub_headers, scrub_text, scrub_uri
from aliconform.drift.doclint import lint_docs
from aliconform.drift.waivers import load_policy
from aliconform.report import replay_report, write_reports
from aliconform.secrets import (
    SecretHit,
    SecretScanError,
    files_to_scan,
    format_hit,
    scan_secrets,
)

REPO = Path(__file__).resolve().parents[1]
ALNUM = string.ascii_letters + string.digits
BASE64 = ALNUM + "+/"


# --- Fakes ------------------------------------------------------------------------------------


def _text(rng: random.Random, alphabet: str, size: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(size))


def _access_key_id(rng: random.Random) -> str:
    return "LTAI" + "5t" + _text(rng, ALNUM, 18)


def _sts_key_id(rng: random.Random) -> str:
    return "STS." + "NU" + _text(rng, ALNUM, 26)


def _security_token(rng: random.Random) -> str:
    return "CAIS" + _text(rng, BASE64, 480) + "=="


def _v2_signature(rng: random.Random) -> str:
    """A V2 (HMAC-SHA1) signature as sent: base64, percent-encoded."""
    return quote(base64.b64encode(rng.randbytes(20)).decode(), safe="")


def _hex(rng: random.Random, digits: int) -> str:
    return rng.randbytes(digits // 2).hex()


@dataclass(frozen=True)
class Plant:
    """A credential as it would appear in traffic (`text`), and the part that must not leak."""

    rule: str
    text: str
    secret: str


def _plant_access_key_id(rng: random.Random) -> Plant:
    key = _access_key_id(rng)
    return Plant("alibaba-access-key-id", key, key)


def _plant_sts_key_id(rng: random.Random) -> Plant:
    key = _sts_key_id(rng)
    return Plant("alibaba-sts-access-key-id", key, key)


def _plant_security_token(rng: random.Random) -> Plant:
    token = _security_token(rng)
    return Plant("alibaba-sts-security-token", token, token)


def _plant_access_key_secret(rng: random.Random) -> Plant:
    secret = _text(rng, ALNUM, 30)
    text = json.dumps({"AccessKeyId": "***", "AccessKeySecret": secret})
    return Plant("alibaba-access-key-secret", text, secret)


def _plant_acs3_credential(rng: random.Random) -> Plant:
    key = _access_key_id(rng)
    text = f"ACS3-HMAC-SHA256 Credential={key},SignedHeaders=host;x-acs-date,Signature=***"
    return Plant("alibaba-acs3-authorization", text, key)


def _plant_acs3_signature(rng: random.Random) -> Plant:
    signature = _hex(rng, 64)
    text = f"ACS3-HMAC-SHA256 Credential=***,SignedHeaders=host;x-acs-date,Signature={signature}"
    return Plant("alibaba-acs3-authorization", text, signature)


def _plant_v2_signature(rng: random.Random) -> Plant:
    signature = _v2_signature(rng)
    text = (
        "https://imm.cn-shanghai.aliyuncs.com/?AccessKeyId=***&Action=GetImageModerationResult"
        f"&Signature={signature}&SignatureMethod=HMAC-SHA1&SignatureNonce=***"
    )
    return Plant("alibaba-signing-parameter", text, signature)


def _plant_v2_access_key_id(rng: random.Random) -> Plant:
    key = _sts_key_id(rng)
    text = f"https://imm.cn-shanghai.aliyuncs.com/?AccessKeyId={key}&Action=GetX&Signature=***"
    return Plant("alibaba-signing-parameter", text, key)


def _plant_v2_security_token(rng: random.Random) -> Plant:
    token = quote(_security_token(rng), safe="")
    text = f"https://imm.cn-shanghai.aliyuncs.com/?Action=GetX&SecurityToken={token}&Signature=***"
    return Plant("alibaba-signing-parameter", text, token)


def _plant_v2_form_body(rng: random.Random) -> Plant:
    signature = _v2_signature(rng)
    text = f"AccessKeyId=***&Action=SubmitSmarttagJob&Signature={signature}&SignatureNonce=***"
    return Plant("alibaba-signing-parameter", text, signature)


_OSS = "https://test-bucket.oss-cn-shanghai.aliyuncs.com/video.mp4"


def _plant_oss_signature(rng: random.Random) -> Plant:
    signature = _v2_signature(rng)
    text = f"{_OSS}?OSSAccessKeyId=***&Expires=1700000000&Signature={signature}"
    return Plant("alibaba-signing-parameter", text, signature)


def _plant_oss_access_key_id(rng: random.Random) -> Plant:
    key = _access_key_id(rng)
    text = f"{_OSS}?OSSAccessKeyId={key}&Expires=1700000000&Signature=***"
    return Plant("alibaba-signing-parameter", text, key)


def _plant_oss_security_token(rng: random.Random) -> Plant:
    token = _text(rng, ALNUM, 64)
    text = f"{_OSS}?OSSAccessKeyId=***&Expires=1700000000&Signature=***&security-token={token}"
    return Plant("alibaba-signing-parameter", text, token)


def _plant_oss_v4_signature(rng: random.Random) -> Plant:
    signature = _hex(rng, 64)
    text = (
        f"{_OSS}?x-oss-signature-version=OSS4-HMAC-SHA256&x-oss-credential=***"
        f"&x-oss-date=20240101T000000Z&x-oss-expires=3600&x-oss-signature={signature}"
    )
    return Plant("alibaba-signing-parameter", text, signature)


def _plant_oss_v4_credential(rng: random.Random) -> Plant:
    credential = quote(f"{_text(rng, ALNUM, 24)}/20240101/cn-shanghai/oss/aliyun_v4_request", "")
    text = f"{_OSS}?x-oss-credential={credential}&x-oss-expires=3600&x-oss-signature=***"
    return Plant("alibaba-signing-parameter", text, credential)


def _plant_oss_url_inside_a_parameter(rng: random.Random) -> Plant:
    signed = f"{_OSS}?OSSAccessKeyId=***&Expires=1700000000&Signature={_v2_signature(rng)}"
    text = f"https://ice.cn-shanghai.aliyuncs.com/?Action=SubmitX&Input={quote(signed, safe='')}"
    secret = text.rsplit("Signature%3D", 1)[1]
    return Plant("alibaba-signing-parameter", text, secret)


def _plant_key_id_in_an_encoded_url(rng: random.Random) -> Plant:
    """`%3DLTAI...`: the escape's hex digits run straight into the key id."""
    key = _access_key_id(rng)
    signed = f"{_OSS}?OSSAccessKeyId={key}&Expires=1700000000&Signature=***"
    return Plant("alibaba-access-key-id", f'{{"Media": "{quote(signed, safe="")}"}}', key)


def _plant_sts_key_id_in_an_encoded_url(rng: random.Random) -> Plant:
    """`%3DSTS.`: as a V2 AccessKeyId inside an encoded URL (a string to sign, an echo)."""
    key = _sts_key_id(rng)
    text = f"POST&%2F&AccessKeyId%3D{key}%26Action%3DGetX"
    return Plant("alibaba-sts-access-key-id", text, key)


def _plant_security_token_in_an_encoded_url(rng: random.Random) -> Plant:
    token = quote(_security_token(rng), safe="")
    text = f"POST&%2F&Action%3DGetX%26SecurityToken%3D{token}"
    return Plant("alibaba-sts-security-token", text, token)


def _plant_access_key_secret_in_xml(rng: random.Random) -> Plant:
    secret = _text(rng, ALNUM, 30)
    text = f"<Credentials><AccessKeyId>***</AccessKeyId><AccessKeySecret>{secret}</AccessKeySecret>"
    return Plant("alibaba-access-key-secret", text, secret)


def _plant_oss_url_encoded_twice(rng: random.Random) -> Plant:
    signed = f"{_OSS}?OSSAccessKeyId=***&Expires=1700000000&Signature={_v2_signature(rng)}"
    text = f'{{"Media": "{quote(quote(signed, safe=""), safe="")}"}}'
    secret = text.rsplit("Signature%253D", 1)[1].removesuffix('"}')
    return Plant("alibaba-signing-parameter", text, secret)


def _plant_oss_url_json_escaped(rng: random.Random) -> Plant:
    signature = _v2_signature(rng)
    text = f'{{"URL": "{_OSS}?OSSAccessKeyId=***\\u0026Expires=1\\u0026Signature={signature}"}}'
    return Plant("alibaba-signing-parameter", text, signature)


PLANTS: dict[str, Callable[[random.Random], Plant]] = {
    "access-key-id": _plant_access_key_id,
    "sts-access-key-id": _plant_sts_key_id,
    "sts-security-token": _plant_security_token,
    "access-key-secret": _plant_access_key_secret,
    "acs3-credential": _plant_acs3_credential,
    "acs3-signature": _plant_acs3_signature,
    "v2-signature": _plant_v2_signature,
    "v2-access-key-id": _plant_v2_access_key_id,
    "v2-security-token": _plant_v2_security_token,
    "v2-form-body": _plant_v2_form_body,
    "oss-signature": _plant_oss_signature,
    "oss-access-key-id": _plant_oss_access_key_id,
    "oss-security-token": _plant_oss_security_token,
    "oss-v4-signature": _plant_oss_v4_signature,
    "oss-v4-credential": _plant_oss_v4_credential,
    "oss-url-inside-a-parameter": _plant_oss_url_inside_a_parameter,
    "oss-url-json-escaped": _plant_oss_url_json_escaped,
    "key-id-in-an-encoded-url": _plant_key_id_in_an_encoded_url,
    "oss-url-encoded-twice": _plant_oss_url_encoded_twice,
    "sts-key-id-in-an-encoded-url": _plant_sts_key_id_in_an_encoded_url,
    "security-token-in-an-encoded-url": _plant_security_token_in_an_encoded_url,
    "access-key-secret-in-xml": _plant_access_key_secret_in_xml,
}


def _plant(name: str) -> Plant:
    return PLANTS[name](random.Random(name))


# --- Carriers: where a credential lands --------------------------------------------------------

FINDING_ID = "0123456789abcdef"


def _cassette(
    headers: dict[str, list[str]],
    uri: str = "https://imm.cn-shanghai.aliyuncs.com/?Action=GetImageModerationResult",
    body: str = '{"RequestId": "E6A120B1-BEB3-0F63-A7C2-0783B6******"}',
) -> str:
    """A cassette as vcrpy writes it (headers are lists)."""
    interaction = {
        "request": {"body": None, "headers": headers, "method": "POST", "uri": uri},
        "response": {
            "body": {"string": body},
            "headers": {"Content-Type": ["application/json;charset=utf-8"]},
            "status": {"code": 200, "message": "OK"},
        },
    }
    text: str = yamlserializer.serialize({"interactions": [interaction], "version": 1})
    return text


def _in_cassette(text: str) -> str:
    return _cassette({"accept": ["application/json"], "x-planted": [text]})


def _in_json_report(text: str) -> str:
    finding = {"id": FINDING_ID, "kind": "type-mismatch", "observed": text, "path": "/URL"}
    report = {"format": "aliconform-drift-report", "format_version": 1, "findings": [finding]}
    return json.dumps(report, indent=2) + "\n"


def _in_html_report(text: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<body>\n<table class="findings">\n'
        f'<tr class="finding" data-id="{FINDING_ID}" data-kind="type-mismatch">\n'
        f"  <td><code>{escape(text)}</code></td>\n"
        "</tr>\n</table>\n</body>\n</html>\n"
    )


CARRIERS: dict[str, tuple[str, Callable[[str], str]]] = {
    "cassette": ("cassettes/imm/Op/scenario.yaml", _in_cassette),
    "json-report": ("reports/drift.json", _in_json_report),
    "html-report": ("reports/drift.html", _in_html_report),
}


def _write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.split("\n"), start=1) if needle in line)


def _flagged(tmp_path: Path, name: str, text: str) -> list[SecretHit]:
    return scan_secrets([_write(tmp_path, name, text)], root=tmp_path)


# --- Rules ------------------------------------------------------------------------------------


@pytest.mark.parametrize("carrier", list(CARRIERS))
@pytest.mark.parametrize("plant_name", list(PLANTS))
def test_every_rule_catches_its_credential(tmp_path: Path, plant_name: str, carrier: str) -> None:
    plant = _plant(plant_name)
    name, embed = CARRIERS[carrier]
    text = embed(plant.text)
    hits = _flagged(tmp_path, name, text)
    line = _line_of(text, plant.secret)
    public = plant.rule in ("alibaba-access-key-id", "alibaba-sts-access-key-id")
    preview = plant.secret[:4] + "…" if public else f"*** ({len(plant.secret)} characters)"
    assert SecretHit(name, line, plant.rule, preview) in hits, hits


def test_builtin_detectors_see_header_values_in_a_cassette(tmp_path: Path) -> None:
    """The list items vcrpy writes for headers are scanned, by detect-secrets' own detectors."""
    rng = random.Random("builtin")
    jwt_parts = [{"alg": "HS256", "typ": "JWT"}, {"sub": _text(rng, ALNUM, 12)}]
    jwt = ".".join(
        base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
        for part in jwt_parts
    )
    headers = {
        "x-aws-key": ["AKIA" + _text(rng, string.ascii_uppercase + string.digits, 16)],
        "x-bearer": [jwt + "." + _text(rng, ALNUM, 43)],
        "x-github": ["ghp_" + _text(rng, ALNUM, 36)],
        "x-pem": ["-----BEGIN " + "RSA PRIVATE KEY-----"],
    }
    text = _cassette(headers)
    hits = _flagged(tmp_path, "c.yaml", text)
    assert {(hit.line, hit.rule) for hit in hits} >= {
        (_line_of(text, "AKIA"), "aws-access-key"),
        (_line_of(text, jwt), "json-web-token"),
        (_line_of(text, "ghp_"), "github-token"),
        (_line_of(text, "PRIVATE KEY"), "private-key"),
    }


def test_keyword_and_entropy_detectors_run_on_reports(tmp_path: Path) -> None:
    rng = random.Random("keyword")
    blob = base64.b64encode(rng.randbytes(48)).decode()
    text = json.dumps({"password": _text(rng, ALNUM, 20), "blob": blob}, indent=2)
    hits = {(hit.line, hit.rule) for hit in _flagged(tmp_path, "drift.json", text)}
    assert hits == {(2, "secret-keyword"), (3, "base64-high-entropy-string")}


def test_a_line_shaped_like_code_does_not_hide_a_key(tmp_path: Path) -> None:
    """detect-secrets' indirect-reference heuristic (`x = f(y)`) is for code, not reports."""
    key = "AKIA" + _text(random.Random("code"), string.ascii_uppercase + string.digits, 16)
    row = f"| GetVideoModerationResult | `/Frames` | observed: Frames[0] | {key} |\n"
    hits = _flagged(tmp_path, "summary.md", row)
    assert [(hit.line, hit.rule) for hit in hits] == [(1, "aws-access-key")]


def test_a_credential_in_a_cassettes_uri_and_body_is_found(tmp_path: Path) -> None:
    rng = random.Random("uri-and-body")
    key, token = _access_key_id(rng), _security_token(rng)
    uri = f"https://imm.cn-shanghai.aliyuncs.com/?AccessKeyId={key}&Action=GetX&Signature=***"
    body = json.dumps({"Credentials": {"AccessKeyId": "***", "SecurityToken": token}})
    text = _cassette({"accept": ["application/json"]}, uri=uri, body=body)
    hits = {(hit.line, hit.rule) for hit in _flagged(tmp_path, "c.yaml", text)}
    assert (_line_of(text, key), "alibaba-access-key-id") in hits
    assert (_line_of(text, key), "alibaba-signing-parameter") in hits
    assert (_line_of(text, token[:100]), "alibaba-sts-security-token") in hits


def test_a_credential_spelled_with_json_escapes_is_found(tmp_path: Path) -> None:
    # JSON may escape any character; a cassette's body keeps the service's spelling, and one
    # level down (JSON in a JSON string) the backslash is doubled.
    rng = random.Random("escaped")
    key, secret = _access_key_id(rng), "Q8ZxNp2Rk7Ym3Jd4Hs9Lw"
    escaped_key = "\\u004c" + key[1:]
    inner = json.dumps({"Note": escaped_key})  # the escape doubled once embedded below
    body = (
        f'{{"\\u0041ccessKeySecret": "{secret}", "Message": "key {escaped_key}", '
        f'"Result": {json.dumps(inner)}}}'
    )
    assert key not in body
    text = _cassette({"accept": ["application/json"]}, body=body)
    hits = {(hit.line, hit.rule) for hit in _flagged(tmp_path, "c.yaml", text)}
    # YAML folds the long body string; each part is found on its own line
    assert (_line_of(text, "ccessKeySecret"), "alibaba-access-key-secret") in hits
    assert (_line_of(text, "Message"), "alibaba-access-key-id") in hits
    assert (_line_of(text, "Note"), "alibaba-access-key-id") in hits


# --- Allowances -------------------------------------------------------------------------------


def test_scrubbed_traffic_passes_and_the_same_traffic_unscrubbed_does_not(tmp_path: Path) -> None:
    rng = random.Random("scrub")
    key, token, signature = _access_key_id(rng), _security_token(rng), _hex(rng, 64)
    authorization = f"ACS3-HMAC-SHA256 Credential={key},SignedHeaders=host,Signature={signature}"
    headers = {
        "Authorization": [authorization],
        "x-acs-accesskey-id": [_sts_key_id(rng)],
        "x-acs-security-token": [token],
        "x-acs-signature-nonce": [str(uuid.UUID(int=rng.getrandbits(128)))],
    }
    signed = f"{_OSS}?OSSAccessKeyId={key}&Expires=1700000000&Signature={_v2_signature(rng)}"
    uri = (
        f"https://imm.cn-shanghai.aliyuncs.com/?AccessKeyId={key}&Action=GetX"
        f"&Signature={_v2_signature(rng)}&SecurityToken={quote(token, safe='')}"
        f"&Input={quote(signed, safe='')}"
    )
    body = json.dumps({"URL": signed.replace("&", "\\u0026"), "Cover": signed})

    raw = _cassette(headers, uri=uri, body=body)
    scrubbed = _cassette(scrub_headers(headers), uri=scrub_uri(uri), body=scrub_text(body))
    assert len({hit.rule for hit in _flagged(tmp_path, "raw.yaml", raw)}) >= 4
    assert _flagged(tmp_path, "scrubbed.yaml", scrubbed) == []


@pytest.mark.parametrize("carrier", list(CARRIERS))
def test_placeholders_are_not_secrets(tmp_path: Path, carrier: str) -> None:
    name, embed = CARRIERS[carrier]
    texts = [
        "ACS3-HMAC-SHA256 Credential=***,SignedHeaders=host;x-acs-date,Signature=***",
        "https://imm.cn-shanghai.aliyuncs.com/?AccessKeyId=***&Signature=***&SecurityToken=***",
        f"{_OSS}?OSSAccessKeyId=***&Expires=1&Signature=***&security-token=***",
        f"{_OSS}?x-oss-credential=***&x-oss-signature=***",
        f"https://ice.cn-shanghai.aliyuncs.com/?Input={quote(f'{_OSS}?Signature=***', safe='')}",
        quote(quote(f"{_OSS}?OSSAccessKeyId=***&Signature=***", safe=""), safe=""),
        f'{{"URL": "{_OSS}?OSSAccessKeyId=***\\u0026Signature=***"}}',
        '{"AccessKeyId": "***", "AccessKeySecret": "***", "SecurityToken": "***"}',
    ]
    for index, text in enumerate(texts):
        _write(tmp_path / str(index), name, embed(text))
    assert scan_secrets([tmp_path], root=tmp_path) == []


def _marked(lines: list[tuple[str, bool]]) -> tuple[str, set[int]]:
    """A file from (line, should be flagged) pairs, and the numbers of the lines to flag."""
    text = "\n".join(line for line, _ in lines) + "\n"
    return text, {number for number, (_, flag) in enumerate(lines, start=1) if flag}


def test_digests_and_ids_pass_only_in_the_fields_that_carry_them(tmp_path: Path) -> None:
    rng = random.Random("digests")
    body_hash, empty_hash, digest = _hex(rng, 64), hashlib.sha256(b"").hexdigest(), _hex(rng, 64)
    resource_id = uuid.UUID(int=rng.getrandbits(128), version=4).hex
    not_a_uuid = resource_id[:12] + "0" + resource_id[13:]  # version nibble 0
    cassette, expected = _marked(
        [
            ("interactions:", False),
            ("- request:", False),
            ("    headers:", False),
            ("      x-acs-content-sha256:", False),
            (f"      - '{body_hash}'", False),  # the body's hash, where V3 signing sends it
            ("      x-acs-other:", False),
            (f"      - '{body_hash}'", True),  # the same hex under any other name is flagged
            (f"      x-acs-empty: ['{empty_hash}']", False),  # sha256 of nothing, anywhere
            (f'    body: \'{{"PipelineId": "{resource_id}"}}\'', False),  # an ICE resource id
            (f'    other: \'{{"PipelineId": "{not_a_uuid}"}}\'', True),  # not a UUID
            (f'    key: \'{{"AccessKeyId": "{resource_id}"}}\'', True),  # a key's id field
            (f"interactions_sha256: '{digest}'", False),  # a provenance sidecar's digest
            (f"other_sha256: '{digest}'", True),
            # a report naming a field: its name is no value
            ("message: at /Password: 'Password' is not documented", False),
            (f"message: at /Password: '{body_hash[:14]}' is not documented", True),
        ]
    )
    hits = _flagged(tmp_path, "c.yaml", cassette)
    assert {hit.line for hit in hits} == expected, hits


def test_report_ids_and_the_csp_hash_pass_but_not_what_shares_their_line(tmp_path: Path) -> None:
    rng = random.Random("report")
    finding_id, key = _hex(rng, 16), _access_key_id(rng)
    script_hash = "sha256-" + base64.b64encode(rng.randbytes(32)).decode()
    csp = f"default-src 'none'; script-src '{script_hash}'; img-src data:"
    html, html_expected = _marked(
        [
            (f'<meta http-equiv="Content-Security-Policy" content="{csp}">', False),
            (f'<tr class="finding" data-id="{finding_id}" data-text="x">', False),
            (f'<tr class="detail" data-detail-for="{finding_id}" hidden>', False),
            (f'<dt>repeats</dt><dd data-repeats="{finding_id}">the lint</dd>', False),
            (f'<tr class="finding" data-id="{finding_id}" data-text="{key}">', True),
            (f'<td>"{finding_id}"</td>', True),
            (f"<td>'{script_hash}'</td>", True),
        ]
    )
    json_report, json_expected = _marked(
        [
            (f'  "id": "{finding_id}",', False),
            (f'  "repeats": "{finding_id}",', False),
            (f'  "observed": "{finding_id}",', True),
        ]
    )
    html_hits = _flagged(tmp_path, "drift.html", html)
    json_hits = _flagged(tmp_path, "drift.json", json_report)
    assert {hit.line for hit in html_hits} == html_expected, html_hits
    assert {hit.line for hit in json_hits} == json_expected, json_hits


def test_freshly_written_reports_pass(tmp_path: Path, contracts: ContractSet) -> None:
    report = replay_report(
        replay_all(REPO / "cassettes", contracts),
        lint_docs(contracts),
        contracts,
        load_policy(REPO / "drift-policy.yaml"),
    )
    files = write_reports(report, tmp_path / "reports")
    assert scan_secrets([files.html, files.json, files.junit, files.markdown]) == []


# --- Hits, paths, files -----------------------------------------------------------------------


def test_a_hit_never_shows_the_secret(tmp_path: Path) -> None:
    plants = {f"{name}.yaml": _plant(name) for name in PLANTS}
    for name, plant in plants.items():
        _write(tmp_path, name, _in_cassette(plant.text))
    password = _text(random.Random("short"), ALNUM, 5)
    _write(tmp_path, "short.json", json.dumps({"password": password}))
    hits = scan_secrets([tmp_path], root=tmp_path)
    assert {hit.file for hit in hits} == {*plants, "short.json"}
    for hit in hits:
        # an identifier's public prefix (LTAI, STS.), never a character of anything else
        if hit.rule in ("alibaba-access-key-id", "alibaba-sts-access-key-id"):
            assert hit.preview in ("LTAI…", "STS.…")
        else:
            assert re.fullmatch(r"\*\*\* \(\d+ characters\)", hit.preview), hit
    short = [(hit.rule, hit.preview) for hit in hits if hit.file == "short.json"]
    assert short == [("secret-keyword", "*** (5 characters)")]


def test_hits_name_the_file_relative_to_the_root_and_format_for_the_terminal(
    tmp_path: Path,
) -> None:
    plant = _plant("access-key-id")
    _write(tmp_path, "reports/b.json", _in_json_report(plant.text))
    _write(tmp_path, "cassettes/a.yaml", _in_cassette(plant.text))
    hits = scan_secrets([tmp_path / "reports", tmp_path / "cassettes"], root=tmp_path)
    assert [hit.file for hit in hits] == ["cassettes/a.yaml", "reports/b.json"]
    assert format_hit(hits[0]) == f"cassettes/a.yaml:{hits[0].line} alibaba-access-key-id LTAI…"


def test_a_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    _write(tmp_path, "cassettes/a.yaml", "version: 1\n")
    missing = tmp_path / "reprots"
    with pytest.raises(SecretScanError, match=r"no such file or directory: .*reprots") as caught:
        scan_secrets([tmp_path / "cassettes", missing])
    assert isinstance(caught.value, AliconformError)
    assert isinstance(caught.value, FileNotFoundError)


def test_binary_files_are_skipped_and_text_in_any_encoding_is_read(tmp_path: Path) -> None:
    key = _access_key_id(random.Random("binary"))
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + key.encode() + bytes(range(256))
    (tmp_path / "screenshots").mkdir()
    (tmp_path / "screenshots" / "report.png").write_bytes(png)
    (tmp_path / "latin1.md").write_bytes(b"caf\xe9 " + key.encode() + b"\n")
    assert files_to_scan([tmp_path]) == [tmp_path / "latin1.md"]
    hits = scan_secrets([tmp_path], root=tmp_path)
    assert [(hit.file, hit.line, hit.rule) for hit in hits] == [
        ("latin1.md", 1, "alibaba-access-key-id")
    ]


@pytest.mark.parametrize("encoding", ["gbk", "latin-1"])
def test_a_body_vcrpy_writes_as_binary_is_read_decoded(tmp_path: Path, encoding: str) -> None:
    """vcrpy writes a body that is not UTF-8 as a base64 `!!binary` scalar; the credentials
    in it are still found, at the line of the body."""
    rng = random.Random(encoding)
    key, secret = _access_key_id(rng), _text(rng, ALNUM, 30)
    answer = {"Message": "成功 é", "AccessKeyId": key, "AccessKeySecret": secret}
    raw = json.dumps(answer, ensure_ascii=False).encode(encoding, "replace")
    interaction = {
        "request": {"body": None, "headers": {}, "method": "POST", "uri": "https://x/"},
        "response": {"body": {"string": raw}, "headers": {}, "status": {"code": 200}},
    }
    text = yamlserializer.serialize({"interactions": [interaction], "version": 1})
    assert "!!binary" in text
    assert key not in text
    hits = _flagged(tmp_path, "cassettes/imm/Op/gbk.yaml", text)
    line = _line_of(text, "!!binary")
    found = {(hit.line, hit.rule) for hit in hits}
    assert (line, "alibaba-access-key-id") in found, hits
    assert (line, "alibaba-access-key-secret") in found, hits


def test_a_file_given_twice_is_scanned_once(tmp_path: Path) -> None:
    path = _write(tmp_path, "cassettes/a.yaml", _in_cassette(_plant("access-key-id").text))
    assert files_to_scan([tmp_path / "cassettes", path]) == [path]


def test_detect_secrets_settings_are_restored_after_a_scan(tmp_path: Path) -> None:
    before = get_settings().json()
    _flagged(tmp_path, "c.yaml", _in_cassette(_plant("access-key-id").text))
    assert get_settings().json() == before


def test_imm_event_ids_are_ids_even_inside_escaped_json(tmp_path: Path) -> None:
    """An IMM EventId is random by design and public; the same value under another name is not
    excused, and neither is a real key beside it."""
    rng = random.Random(3)
    tail = "".join(
        rng.sample(string.ascii_letters + string.digits, 25)
    )  # all distinct: high entropy
    event_id = f"C{rng.randrange(16):X}E-{tail}"
    allowed = tmp_path / "allowed.json"
    allowed.write_text(f'{{"text": "  \\"EventId\\": \\"{event_id}\\","}}\n', "utf-8")
    assert scan_secrets([allowed], root=tmp_path) == []
    control = tmp_path / "control.json"
    control.write_text(f'{{"text": "  \\"Password\\": \\"{event_id}\\","}}\n', "utf-8")
    assert scan_secrets([control], root=tmp_path) != []


def test_the_secrets_command_with_nothing_to_scan_does_not_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from aliconform.cli import main

    monkeypatch.chdir(tmp_path)  # no cassettes/ and no reports/ here
    assert main(["secrets"]) == 2
    assert "nothing to scan: neither cassettes/ nor reports/ is in" in capsys.readouterr().err
    (tmp_path / "reports" / "empty").mkdir(parents=True)  # there, but nothing in it
    assert main(["secrets"]) == 2
    assert "nothing to scan: no text in reports" in capsys.readouterr().err
    (tmp_path / "reports" / "summary.md").write_text("all good\n", "utf-8")
    assert main(["secrets"]) == 0
    assert "no secrets found in reports" in capsys.readouterr().out


def test_a_detector_that_captures_a_prefix_shows_no_length(tmp_path: Path) -> None:
    # detect-secrets' GitHub rule captures "ghp" alone: "3 characters" would misstate the token.
    token = "ghp_" + "abcdefghijklmnopqrstuvwxyz0123456789"
    _write(tmp_path, "x.json", json.dumps({"t": token}))
    previews = {hit.rule: hit.preview for hit in scan_secrets([tmp_path], root=tmp_path)}
    assert previews["github-token"] == "***"


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate"])
def test_a_compressed_body_vcrpy_writes_as_binary_is_read_decompressed(
    tmp_path: Path, encoding: str
) -> None:
    """Plain vcrpy and pytest-recording keep a gzip or deflate body as the service sent it:
    compressed, then base64. The credentials in it are still found."""
    import gzip
    import zlib

    rng = random.Random(encoding)
    key, secret = _access_key_id(rng), _text(rng, ALNUM, 30)
    raw = json.dumps({"AccessKeyId": key, "AccessKeySecret": secret}).encode()
    raw_deflate = zlib.compressobj(wbits=-15)  # what some servers send as "deflate"
    packed = {
        "gzip": gzip.compress(raw),
        "deflate": zlib.compress(raw),
        "raw-deflate": raw_deflate.compress(raw) + raw_deflate.flush(),
    }[encoding]
    interaction = {
        "request": {"body": None, "headers": {}, "method": "POST", "uri": "https://x/"},
        "response": {"body": {"string": packed}, "headers": {}, "status": {"code": 200}},
    }
    text = yamlserializer.serialize({"interactions": [interaction], "version": 1})
    assert "!!binary" in text
    found = {(hit.line, hit.rule) for hit in _flagged(tmp_path, "c.yaml", text)}
    line = _line_of(text, "!!binary")
    assert (line, "alibaba-access-key-id") in found
    assert (line, "alibaba-access-key-secret") in found
    # A gzip file in a scanned directory (a capture) is read through its decompressor too.
    (tmp_path / "capture.jsonl.gz").write_bytes(gzip.compress(raw + b"\n"))
    hits = scan_secrets([tmp_path / "capture.jsonl.gz"], root=tmp_path)
    assert {(hit.file, hit.line, hit.rule) for hit in hits} >= {
        ("capture.jsonl.gz", 1, "alibaba-access-key-id")
    }


def test_a_scan_of_a_pipe_reads_all_of_it(tmp_path: Path) -> None:
    """`aliconform secrets <(zcat ...)`: a pipe can be read once only."""
    import os
    import threading

    from aliconform.cli import main

    key = _access_key_id(random.Random("pipe"))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        with fifo.open("w") as writer:
            writer.write("x" * 10_000 + "\n" + f"AccessKeyId: {key}\n")

    feeder = threading.Thread(target=feed)
    feeder.start()
    try:
        assert main(["secrets", str(fifo)]) == 1
    finally:
        feeder.join(timeout=10)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Authorization", "Basic " + base64.b64encode(b"LTAI5tAbc:the-secret").decode()),
        ("Proxy-Authorization", "Basic dXNlcjpwYXNzd29yZA=="),
        ("x-acs-bearer-token", "a-bearer-token-value"),
        ("x-acs-security-token", "not-a-CAIS-token-but-a-token"),
        ("Cookie", "session=abc123"),
    ],
)
def test_a_credential_header_the_scrubber_replaces_is_found_unscrubbed(
    tmp_path: Path, header: str, value: str
) -> None:
    """The scan is as strict as the scrubbing it checks: a header that recording replaces is a
    hit wherever it is found as it was sent."""
    text = _cassette({"accept": ["application/json"], header: [value]})
    hits = _flagged(tmp_path, "c.yaml", text)
    line = _line_of(text, value)
    assert (line, "credential-header") in {(hit.line, hit.rule) for hit in hits}, hits
    assert all(value not in format_hit(hit) for hit in hits)
    scrubbed = _cassette(scrub_headers({"accept": ["application/json"], header: [value]}))
    assert _flagged(tmp_path, "scrubbed.yaml", scrubbed) == []


def test_resource_ids_in_a_list_and_an_etag_are_not_secrets(tmp_path: Path) -> None:
    """An ICE answer lists output media by id, in a field named for ids; an ETag is the hash of
    public content. Recording held back such an answer as leaking a secret."""
    ids = [uuid.UUID(int=random.Random(n).getrandbits(128), version=4).hex for n in range(3)]
    body = json.dumps({"RequestId": "r", "OutputMediaIds": ids})
    text = _cassette({"accept": ["application/json"]}, body=body).replace(
        "Content-Type:",
        "ETag:\n      - '\"5B3C1A9F0D2E4B7A8C6D1E0F9A8B7C6D\"'\n      Content-Type:",
    )
    assert _flagged(tmp_path, "c.yaml", text) == []
    leaked = json.dumps({"RequestId": "r", "Tokens": ids})  # the same values, not as ids
    assert _flagged(tmp_path, "d.yaml", _cassette({}, body=leaked)) != []


def test_a_path_is_printed_as_it_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A directory named `c[` or `e[red]` is a path, not terminal markup."""
    from aliconform.cli import main

    for name in ("c[", "e[red]"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "a.md").write_text("all good\n", "utf-8")
        assert main(["secrets", str(tmp_path / name)]) == 0
        assert f"no secrets found in {tmp_path / name}" in " ".join(capsys.readouterr().out.split())


def test_body_text_is_never_read_as_a_header(tmp_path: Path) -> None:
    """YAML wraps a long body: a line of it may start with `Authorization:`. Only a cassette's
    `headers:` blocks are read as headers. (A long run of spaces, as a body may hold, is read
    in time linear in its length.)"""
    for pad in range(8, 48):
        message = "x" * pad + " please send an Authorization: Basic header or a Cookie: sid=1 "
        body = json.dumps({"Message": message * 3, "Text": "a" + " " * 5000 + "b"})
        text = _cassette({"accept": ["application/json"]}, body=body)
        assert _flagged(tmp_path, f"c{pad}.yaml", text) == [], pad


def test_every_member_of_a_gzip_file_is_read_and_one_not_read_whole_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`gzip >>` appends a member; a scan that read only the first would pass what follows."""
    import gzip

    import aliconform.secrets

    key = _access_key_id(random.Random("members"))
    capture = tmp_path / "capture.jsonl.gz"
    capture.write_bytes(gzip.compress(b"hello\n") + gzip.compress(f"{key}\n".encode()))
    hits = scan_secrets([capture], root=tmp_path)
    assert [(hit.line, hit.rule) for hit in hits] == [(2, "alibaba-access-key-id")]
    cut = tmp_path / "cut.gz"
    cut.write_bytes(capture.read_bytes()[:-12])
    with pytest.raises(SecretScanError, match=r"cut\.gz: a damaged or cut-off gzip file"):
        scan_secrets([cut], root=tmp_path)
    monkeypatch.setattr(aliconform.secrets, "_MOST_DECOMPRESSED", 1000)
    big = tmp_path / "big.gz"
    big.write_bytes(gzip.compress(b"a" * 5000 + f"\n{key}\n".encode()))
    with pytest.raises(SecretScanError, match=r"big\.gz: more than 0 MiB once unpacked"):
        scan_secrets([big], root=tmp_path)
