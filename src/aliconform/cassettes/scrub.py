"""Scrubbing: no credential, signature, nonce or signed-URL secret is ever written to a file.

Every hook is idempotent: vcrpy runs `before_record_request` again on each request it plays
back (to match it), so scrubbing scrubbed data must change nothing. Placeholders are stable
strings, so a re-recorded cassette differs from the last one only where the service did.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import itertools
import os
import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from vcr.errors import CannotOverwriteExistingCassetteException
from vcr.request import Request

from aliconform.cassettes.rpc import read_rpc_call
from aliconform.drift.findings import Finding
from aliconform.errors import error_chain

__all__ = [
    "ACCESS_KEY_ID",
    "PLACEHOLDER",
    "SIGNED_STRING_OMITTED",
    "STS_ACCESS_KEY_ID",
    "STS_SECURITY_TOKEN",
    "is_credential_exchange",
    "recordable",
    "scrub_body",
    "scrub_finding",
    "scrub_headers",
    "scrub_observed",
    "scrub_replay_miss",
    "scrub_request",
    "scrub_response",
    "scrub_text",
    "scrub_uri",
    "scrubbing_known_secrets",
    "spell_out_escapes",
    "starts_a_word",
]

# Asterisks, the usual mark of a masked value: nothing a secret scanner (or a person) could take
# for a real key, token or signature.
PLACEHOLDER = "***"

# V3 (ACS3-HMAC-SHA256) and V2 (HMAC-SHA1) secrets in headers, by lower-cased header name.
_SECRET_HEADERS = {
    "x-acs-security-token": PLACEHOLDER,
    "x-acs-bearer-token": PLACEHOLDER,
    "x-acs-signature-nonce": PLACEHOLDER,
    "x-acs-accesskey-id": PLACEHOLDER,
    "x-oss-security-token": PLACEHOLDER,
    "x-aliyun-ecs-metadata-token": PLACEHOLDER,  # the ECS metadata service's session token
    "proxy-authorization": PLACEHOLDER,
    "cookie": PLACEHOLDER,
    "set-cookie": PLACEHOLDER,
}
_ACS3 = re.compile(r"^\s*ACS3-[A-Z0-9-]+\s", re.IGNORECASE)
_ACS3_CREDENTIAL = re.compile(r"(Credential\s*=\s*)[^,\s]*", re.IGNORECASE)
_ACS3_SIGNATURE = re.compile(r"(Signature\s*=\s*)[^,\s]*", re.IGNORECASE)

# V2 signing parameters in a request's query string or form body.
_QUERY_SECRETS = re.compile(
    r"(?<=[?&])(AccessKeyId|Signature|SignatureNonce|SecurityToken|BearerToken|OIDCToken)=[^&#]*",
    re.IGNORECASE,
)

# The secret parameters of a signed URL: OSS (and CDN) URLs, and a V2-signed API URL quoted in a
# body, a header (Location) or an error message.
_SIGNED_NAMES = (
    r"(?P<name>OSSAccessKeyId|Signature|Expires|security-token|auth_key|x-oss-[A-Za-z0-9-]+"
    r"|AccessKeyId|SecurityToken|SignatureNonce|BearerToken|OIDCToken)"
)
# Signed URLs inside response bodies, also when the body is JSON-escaped (\u0026 for &) or
# HTML-escaped (&amp;), and inside JSON strings nested in JSON strings.
_SIGNED_URL_PARAMS = re.compile(
    r"(?P<sep>[?&]|\\u0026|\\\\u0026|&amp;)"
    rf"{_SIGNED_NAMES}="
    r"(?P<value>[^&\"'\s\\<>#]*)",
    re.IGNORECASE,
)
# The same parameters in a signed URL that is itself percent-encoded inside a text (an InputURL
# echoed in a body, a URL in a redirect parameter), once or more (`%3F`, `%253F`, ...): the
# separator before the name and the `=` after it are encoded as often as each other. The value
# ends where the plain one does, at a character or at its encoded form (`&`, `#`, a quote, a
# backslash, `<`, `>`, whitespace): a URL inside encoded JSON ends at its `%22`, and the JSON
# after it is kept. Its placeholder is encoded as often (%2A%2A%2A, %252A%252A%252A), so the
# encoded URL still decodes to the scrubbed one.
_ENCODED_STOPS = r"(?:26|23|22|27|5C|3C|3E|20|09|0A|0B|0C|0D)"
_ENCODED_SIGNED_URL_PARAMS = re.compile(
    r"(?P<sep>%(?P<levels>(?:25)*)(?:3F|26))"
    rf"{_SIGNED_NAMES}"
    r"%(?P=levels)3D"
    rf"(?P<value>(?:[^%&\"'\s\\<>#]|%(?!(?:25)*{_ENCODED_STOPS})[0-9A-Fa-f]{{2}})*)",
    re.IGNORECASE,
)

# Credentials by their field name inside a JSON text, also where the JSON is a string inside
# JSON (quotes backslash-escaped): an STS answer, or a caller's own JSON echoed back (UserData).
# Only a value made of key and token characters is replaced, so `***` is never replaced again.
# The names as the services and the SDKs spell them (AccessKeySecret, access_key_secret), and
# the other names a credential goes by in JSON a service may echo back (a caller's UserData).
_CREDENTIAL_NAMES = (
    r"(?:Access_?Key_?(?:Id|Secret)|(?:Security|Session|Bearer|Access|Refresh|Id)_?Token"
    r"|Pass(?:word|wd)|(?:Client_?)?Secret|(?:Private|Api)_?Key|Authorization|Signature)"
)
_CREDENTIAL_NAME = re.compile(_CREDENTIAL_NAMES, re.IGNORECASE)
_CREDENTIAL_FIELDS = re.compile(
    r"(?P<head>(?P<quote>(?<!\\)\\*\")"  # a whole run of backslashes: no backtracking into it
    rf"{_CREDENTIAL_NAMES}"
    r"(?P=quote)\s*:\s*(?P=quote))"
    # The whole string value, whatever its characters (`v2:...`, `Bearer ...`, `\/`), up to
    # its closing quote; `***` is replaced by itself.
    r"(?P<value>(?:[^\"\\\n]|\\+[^\"\\\n])+)(?=(?P=quote))",
    re.IGNORECASE,
)

# The same fields as XML elements (an answer in Format=XML): <AccessKeySecret>...</...>.
_CREDENTIAL_ELEMENTS = re.compile(
    rf"(?P<head><(?P<tag>{_CREDENTIAL_NAMES})>)(?P<value>[^<]+)(?=</(?P=tag)>)", re.IGNORECASE
)


def starts_a_word(not_after: str) -> str:
    """Where a credential can start: not right after a character of the class not_after (it
    would be part of a longer word), unless that character ends a percent escape (`%3DLTAI...`,
    `%253DSTS....` in an encoded URL), whose hex digits are not part of the word."""
    return rf"(?:(?<!{not_after})|(?<=%[0-9A-Fa-f]{{2}})|(?<=%25[0-9A-Fa-f]{{2}}))"


# Alibaba Cloud credentials by their shape, wherever they stand (a message quoting a request, a
# value under any name). The secret scan reads files with the same patterns.
ACCESS_KEY_ID = re.compile(
    # A long-term AccessKey id: LTAI and 12 to 30 letters and digits (LTAI5t... has 24).
    starts_a_word("[A-Za-z0-9]") + r"(?P<secret>LTAI[A-Za-z0-9]{12,30})(?![A-Za-z0-9])"
)
# A temporary AccessKey id issued by STS: `STS.` and 16 or more letters and digits.
STS_ACCESS_KEY_ID = re.compile(starts_a_word("[A-Za-z0-9.]") + r"(?P<secret>STS\.[A-Za-z0-9]{16,})")
# An STS SecurityToken: base64 starting CAIS, hundreds of characters; also JSON-escaped (\/) or
# percent-encoded (%2B, %2F, %3D), as it appears in bodies and query strings.
STS_SECURITY_TOKEN = re.compile(
    starts_a_word("[A-Za-z0-9+/]")
    + r"(?P<secret>CAIS(?:[A-Za-z0-9+/=]|\\{1,2}/|%2[BbFf]|%3[Dd]){96,})"
)
# Each shape with the text it cannot match without: a substring test is far cheaper than a
# search whose lookbehinds keep the regex engine from skipping ahead (the pytest plugin scrubs
# every captured output shown, megabytes in a long suite).
_CREDENTIAL_VALUES = (
    ("LTAI", ACCESS_KEY_ID),
    ("STS.", STS_ACCESS_KEY_ID),
    ("CAIS", STS_SECURITY_TOKEN),
)

#: What replaces the string to sign that a SignatureDoesNotMatch answer quotes.
SIGNED_STRING_OMITTED = "(string to sign omitted)"
# The gateway's message quotes the string it signed ("server string to sign is:..."); under V2
# that string holds every query parameter, AccessKeyId and SecurityToken among them. Inside a
# JSON body it ends at the closing quote of the message.
_SIGNED_STRING_IN_BODY = re.compile(r'(?i)\s*(?:server )?string to sign(?! omitted\))[^"<]*')


def scrub_body(body: bytes) -> bytes:
    """A response body fit for a report or a cassette: the quoted string to sign cut, signed
    URLs and credential fields scrubbed. Bytes that are not UTF-8 (a body in GBK, a binary
    one) are kept as they are around what is replaced."""
    text = body.decode("utf-8", "surrogateescape")
    text = _SIGNED_STRING_IN_BODY.sub(" " + SIGNED_STRING_OMITTED, text)
    return scrub_text(text).encode("utf-8", "surrogateescape")


def scrub_text(text: str) -> str:
    """Replace the secret query parameters of every signed URL in a text (plain, JSON-escaped,
    HTML-escaped or percent-encoded) and the value of every credential field in JSON text.

    JSON may spell any character as an escape (`\\u004cTAI…` is `LTAI…`, `"\\u0041ccessKeySecret"`
    is that field), at any depth of JSON inside strings. When a text has such escapes of plain
    ASCII, it is also read with them spelled out; if that reading holds a secret, it is the one
    returned, scrubbed. Otherwise the text keeps its own spelling: a cassette holds what the
    service sent.
    """
    scrubbed = _scrub_plain(text)
    if "u00" not in scrubbed:  # cheap: most texts have no escapes at all
        return scrubbed
    spelled_out = spell_out_escapes(scrubbed)
    if spelled_out == scrubbed:
        return scrubbed
    rescrubbed = _scrub_plain(spelled_out)
    return rescrubbed if rescrubbed != spelled_out else scrubbed


# An escape of a printable ASCII character, behind any number of backslashes: one in JSON, two
# in JSON inside a JSON string, and so on.
_ESCAPED_ASCII = re.compile(r"\\+u00([2-7][0-9A-Fa-f])")


def spell_out_escapes(text: str) -> str:
    """The text with every JSON escape of a printable ASCII character, at any depth of JSON in
    strings, written as the character (except a quote or a backslash). A reading for finding
    secrets, not a rewrite: the result may no longer mean what the text meant."""
    return _ESCAPED_ASCII.sub(_plain_ascii, text) if "u00" in text else text


def _plain_ascii(match: re.Match[str]) -> str:
    character = chr(int(match[1], 16))
    # A quote or a backslash spelled out would end or change the string it is in.
    return match[0] if character in '"\\\x7f' else character


def _scrub_plain(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        return f"{match['sep']}{match['name']}={PLACEHOLDER}"

    def replace_encoded(match: re.Match[str]) -> str:
        star = f"%{match['levels']}2A"
        return f"{match['sep']}{match['name']}%{match['levels']}3D{star * len(PLACEHOLDER)}"

    def replace_credential(match: re.Match[str]) -> str:
        return f"{match['head']}{PLACEHOLDER}"

    if "=" in text:  # a signed-URL parameter is name=value
        text = _SIGNED_URL_PARAMS.sub(replace, text)
    if "%" in text:  # or, percent-encoded, name%3Dvalue
        text = _ENCODED_SIGNED_URL_PARAMS.sub(replace_encoded, text)
    if '"' in text:  # a credential field is a JSON member
        text = _CREDENTIAL_FIELDS.sub(replace_credential, text)
    text = _CREDENTIAL_ELEMENTS.sub(replace_credential, text)
    for literal, shape in _CREDENTIAL_VALUES:
        if literal in text:
            text = shape.sub(PLACEHOLDER, text)
    for known in _known_secrets:
        text = text.replace(known, PLACEHOLDER)
    return text


# The credentials of the run in progress, as written (and in the forms an answer may quote them
# in): scrubbed wherever they appear, whatever their shape, while `scrubbing_known_secrets` lasts.
_known_secrets: tuple[str, ...] = ()
_SHORTEST_KNOWN = 8  # shorter values would replace ordinary words


@contextlib.contextmanager
def scrubbing_known_secrets(*values: str | None) -> Iterator[None]:
    """While it lasts, scrub_text (and so every hook, report and message) replaces these values
    literally, also percent-encoded and in base64 (alone, or as id:secret, as HTTP Basic
    carries them): a service that quotes the caller's key in a message, or echoes a header,
    needs no pattern to be caught."""
    global _known_secrets
    given = [v for v in values if v and len(v) >= _SHORTEST_KNOWN]
    forms = set(given)
    for value in given:
        forms.add(quote(value, safe=""))
        forms.add(base64.b64encode(value.encode()).decode().rstrip("="))
    for first, second in itertools.permutations(given, 2):
        forms.add(base64.b64encode(f"{first}:{second}".encode()).decode().rstrip("="))
    before = _known_secrets
    _known_secrets = tuple(sorted(forms | set(before), key=len, reverse=True))
    try:
        yield
    finally:
        _known_secrets = before


def scrub_finding(finding: Finding) -> Finding:
    """A finding fit for a report or a log. Its observed value is an excerpt of the response
    with no field name around it for scrub_text to see, so a value observed at a credential
    field (a pointer ending in /AccessKeySecret, /Password) is replaced whole; the rest (the
    message, the observed excerpt, an expected text, the pointer and field path, whose keys come
    from the response) by scrub_text."""
    observed = scrub_observed(finding)
    message = scrub_text(finding.message)
    # What an invariant expects can quote the response too (a prefix read off another field).
    expected = finding.expected
    if isinstance(expected, str):
        expected = scrub_text(expected)
    # A key of the response is in the pointer and the field path: a key shaped like an AccessKey
    # id is replaced there too (the pointer then names "***", not the key).
    path = scrub_text(finding.path)
    field = finding.field if finding.field is None else scrub_text(finding.field)
    decoded_at = tuple(scrub_text(pointer) for pointer in finding.decoded_at)
    scrubbed = (observed, message, expected, path, field, decoded_at)
    if scrubbed == (
        finding.observed,
        finding.message,
        finding.expected,
        finding.path,
        finding.field,
        finding.decoded_at,
    ):
        return finding
    return dataclasses.replace(
        finding,
        observed=observed,
        message=message,
        expected=expected,
        path=path,
        field=field,
        decoded_at=decoded_at,
    )


def scrub_observed(finding: Finding) -> str | None:
    """A finding's observed value as scrub_finding leaves it, alone: for a scan, which keeps
    only the distinct values and asks this of every occurrence."""
    observed = finding.observed
    if observed is None:
        return None
    name = finding.path.rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~")
    if _CREDENTIAL_NAME.fullmatch(name) and observed != "null":
        return f'"{PLACEHOLDER}"'
    return scrub_text(observed)


def _scrub_parameters(query: str) -> str:
    """A query string or form body: V2 signing secrets, and signed URLs inside (percent-encoded)
    parameter values, e.g. an InputURL that carries an OSS signature."""
    query = _QUERY_SECRETS.sub(lambda m: f"{m[1]}={PLACEHOLDER}", "&" + query)[1:]
    parts = query.split("&")
    for index, part in enumerate(parts):
        name, equals, value = part.partition("=")
        if not equals or "%" not in value:
            continue
        decoded = unquote(value)
        scrubbed = scrub_text(decoded)
        if scrubbed != decoded:
            parts[index] = f"{name}={quote(scrubbed, safe='')}"
    return scrub_text("&" + "&".join(parts))[1:]  # "&": the first parameter has a separator too


def scrub_uri(uri: str) -> str:
    base, question, rest = uri.partition("?")
    if not question:
        return scrub_text(uri)
    query, hash_mark, fragment = rest.partition("#")
    return f"{scrub_text(base)}?{_scrub_parameters(query)}{hash_mark}{scrub_text(fragment)}"


def _scrub_authorization(value: str) -> str:
    """ACS3 keeps its shape with Credential and Signature replaced; any other scheme keeps only
    its name (`acs`, `Bearer`, ...): nothing unrecognised is ever written as it was."""
    if _ACS3.match(value):
        value = _ACS3_CREDENTIAL.sub(lambda m: f"{m[1]}{PLACEHOLDER}", value)
        return _ACS3_SIGNATURE.sub(lambda m: f"{m[1]}{PLACEHOLDER}", value)
    scheme, space, _credentials = value.strip().partition(" ")
    if space and scheme.isalpha():
        return f"{scheme} {PLACEHOLDER}"
    return PLACEHOLDER


#: Headers whose value is a credential (or the ACS3 signature): what the secret scan holds to
#: having been replaced. The signature nonce is replaced too, but for reproducible cassettes.
CREDENTIAL_HEADERS = frozenset({"authorization", *_SECRET_HEADERS} - {"x-acs-signature-nonce"})


def scrub_header(name: str, value: str) -> str:
    """One header's value as recording writes it."""
    return _scrub_header(name, value)


def _scrub_header(name: str, value: str) -> str:
    lowered = name.lower()
    if lowered == "authorization":
        return _scrub_authorization(value)
    if lowered in _SECRET_HEADERS:
        return _SECRET_HEADERS[lowered]
    return scrub_text(value)


def scrub_headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    """Headers as vcrpy stores them (a value or a list of values per name), scrubbed."""
    scrubbed: dict[str, Any] = {}
    for name, value in headers.items():
        name = scrub_text(name)
        if isinstance(value, list | tuple):
            scrubbed[name] = [_scrub_header(name, str(v)) for v in value]
        else:
            scrubbed[name] = _scrub_header(name, str(value))
    return scrubbed


def _scrub_body(body: Any) -> Any:
    if isinstance(body, bytes):
        return scrub_body(body)
    if isinstance(body, str):
        return scrub_body(body.encode("utf-8", "surrogatepass")).decode("utf-8", "surrogatepass")
    return body


_FORM = re.compile(r"^[A-Za-z0-9_.%-]+=[^{\[\s]*(&|$)")


def _is_form(body: bytes | str, content_type: str) -> bool:
    if "x-www-form-urlencoded" in content_type.lower():
        return True
    head = body[:200].decode("utf-8", "replace") if isinstance(body, bytes) else body[:200]
    return bool(_FORM.match(head))


def scrub_request(request: Request) -> Request:
    """vcrpy's before_record_request hook (also run on playback, hence idempotent)."""
    request.uri = scrub_uri(request.uri)
    for name in list(request.headers):
        request.headers[name] = _scrub_header(name, str(request.headers[name]))
    body = request.body
    content_type = str(
        request.headers.get("Content-Type") or request.headers.get("content-type") or ""
    )
    if isinstance(body, bytes | str) and _is_form(body, content_type):
        # A V2 POST carries its signing parameters in a form body.
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        scrubbed = _scrub_parameters(text)
        request.body = scrubbed.encode("utf-8") if isinstance(body, bytes) else scrubbed
    else:
        request.body = _scrub_body(body)
    return request


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """vcrpy's before_record_response hook: response headers and signed URLs in the body."""
    response["headers"] = scrub_headers(response.get("headers") or {})
    status = response.get("status")
    if isinstance(status, dict) and isinstance(status.get("message"), str):
        status["message"] = scrub_text(status["message"])  # the reason phrase is the server's
    body = response.get("body")
    if isinstance(body, dict) and "string" in body:
        original = body["string"]
        body["string"] = _scrub_body(original)
        if body["string"] != original:
            _fit_content_length(response["headers"], body["string"])
    return response


def _fit_content_length(headers: dict[str, Any], body: str | bytes) -> None:
    """A scrubbed body is shorter than the one the server measured: a client that reads
    Content-Length bytes would wait for the rest, or refuse the replay."""
    size = str(len(body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body))
    for name, value in headers.items():
        if name.lower() == "content-length":
            headers[name] = [size] if isinstance(value, list) else size


# -- the credential chain's own traffic ---------------------------------------------------------
#
# Without a static AccessKey, the SDK asks the alibabacloud-credentials default chain for
# credentials, over HTTP, in the middle of the call being recorded: the ECS instance metadata
# service (a session token, then the role's key and STS token in the clear), STS (AssumeRole,
# AssumeRoleWithOIDC: the OIDC token out, the credentials back), or the URI a
# ALIBABA_CLOUD_CREDENTIALS_URI names. Those exchanges are the credentials themselves, not the
# API's behaviour: they are never recorded, whatever scrubbing would have made of them.

_METADATA_HOSTS = frozenset({"100.100.100.200"})  # the ECS instance metadata service
_CREDENTIAL_ACTIONS = frozenset(
    {"AssumeRole", "AssumeRoleWithOIDC", "AssumeRoleWithSAML", "GetFederationToken"}
)
_STS_HOST = re.compile(r"sts(?:-vpc)?(?:\.[a-z0-9-]+)?\.aliyuncs\.com", re.IGNORECASE)


def is_credential_exchange(request: Request) -> bool:
    """Whether a request is the credential chain fetching credentials, not an API call."""
    parts = urlsplit(request.uri)
    host = (parts.hostname or "").lower()
    if host in _METADATA_HOSTS or _STS_HOST.fullmatch(host):
        return True
    credentials_uri = os.environ.get("ALIBABA_CLOUD_CREDENTIALS_URI", "")
    if credentials_uri:
        named = urlsplit(credentials_uri)
        if (parts.netloc.lower(), parts.path) == (named.netloc.lower(), named.path):
            return True
    body = request.body if isinstance(request.body, bytes | str) else None
    return read_rpc_call(request.uri, dict(request.headers), body).action in _CREDENTIAL_ACTIONS


def recordable(request: Request) -> Request | None:
    """vcrpy's before_record_request hook: None (never recorded, never matched) for the
    credential chain's exchanges, every other request scrubbed (see scrub_request)."""
    return None if is_credential_exchange(request) else scrub_request(request)


# -- vcrpy's refusal of a request the cassette lacks ----------------------------------------------


def scrub_replay_miss(error: BaseException) -> None:
    """vcrpy's message for a request a cassette lacks quotes the request as it was sent, V2
    AccessKeyId, SecurityToken and Signature included (its hooks scrub a copy, not the request),
    and so does every error that wraps it (the SDK repeats it). Rewrite their messages in place,
    before anything shows them."""
    chain = list(error_chain(error))
    sent = [
        request
        for e in chain
        if isinstance(e, CannotOverwriteExistingCassetteException)
        and (request := getattr(e, "failed_request", None)) is not None
    ]
    if not sent:
        return
    uris = [(str(request.uri), scrub_uri(str(request.uri))) for request in sent]

    def clean(text: str) -> str:
        for raw, scrubbed in uris:
            text = text.replace(raw, scrubbed)
        return scrub_text(text)

    for e in chain:
        e.args = tuple(clean(arg) if isinstance(arg, str) else arg for arg in e.args)
        message = getattr(e, "message", None)
        if isinstance(message, str):
            with contextlib.suppress(AttributeError):  # a read-only property
                e.message = clean(message)  # type: ignore[attr-defined]
