"""Verifies AWS Signature Version 4 on a request, as AWS does for EMR (service `elasticmapreduce`).

Why our own code: the signing algorithm is AWS's published specification
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html) and fits in this module, while
botocore (whose signer we would reuse) pins python-dateutil < 3 and so cannot be installed beside the
kubernetes client. The unit tests check it against AWS's own test vectors, and the e2e tests against boto3,
the aws CLI and the JavaScript SDK.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

from kemr.emrapi.errors import (
    InvalidSignatureException,
    MissingAuthenticationTokenException,
)

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "elasticmapreduce"
# AWS refuses a signature whose time is more than 15 minutes from its own clock (SigV4's rule).
MAX_SKEW = timedelta(minutes=15)
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)
_SPACES = re.compile(r"\s+")
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
# Headers a request must sign: where it goes, and which operation it is (boto3, the aws CLI and the
# JavaScript SDK all sign both), so that a captured request cannot be replayed as another operation.
REQUIRED_SIGNED_HEADERS = ("host", "x-amz-target")


@dataclass(frozen=True)
class SignedRequest:
    """What the client's Authorization header says: its access key id, credential scope
    (`date/region/service/aws4_request`), the headers it signed (lowercase, sorted) and its signature."""

    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


def parse_authorization(headers: Mapping[str, str]) -> SignedRequest:
    """Reads the Authorization header. Raises MissingAuthenticationTokenException when there is none and
    InvalidSignatureException when it is not a SigV4 header for this service."""
    value = headers.get("Authorization") or headers.get("authorization")
    if not value:
        raise MissingAuthenticationTokenException("Missing Authentication Token")
    match = _AUTHORIZATION.match(value)
    if not match:
        raise InvalidSignatureException(
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
            f"(algorithm {ALGORITHM})"
        )
    parts = match["credential"].split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise InvalidSignatureException(
            "Credential should be scoped to a valid region, e.g. AKID/20261201/us-east-1/"
            f"{SERVICE}/aws4_request"
        )
    key, date, region, service, _ = parts
    if service != SERVICE:
        raise InvalidSignatureException(
            f"Credential should be scoped to correct service: '{SERVICE}', not '{service}'"
        )
    signed = tuple(match["signed"].split(";"))
    for required in REQUIRED_SIGNED_HEADERS:
        if required not in signed:
            raise InvalidSignatureException(f"'{required}' must be a signed header")
    return SignedRequest(key, date, region, service, signed, match["signature"])


def _uri_encode(path: str) -> str:
    """The canonical URI: each segment decoded then encoded once (RFC 3986 unreserved characters kept)."""
    return "/".join(quote(unquote(segment), safe="-_.~") for segment in path.split("/")) or "/"


def _canonical_query(query: str) -> str:
    pairs = []
    for item in query.split("&") if query else []:
        name, _, value = item.partition("=")
        pairs.append((quote(unquote(name), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{n}={v}" for n, v in sorted(pairs))


def canonical_request(
    method: str, path: str, query: str, headers: Mapping[str, str], signed: tuple[str, ...], body: bytes
) -> str:
    """SigV4's canonical request: method, URI, query, the signed headers (values trimmed, inner spaces
    collapsed; a header sent more than once has its values joined by commas, as SigV4 says), their names,
    and the hex SHA-256 of the body. `headers` may be a multi-dict (its items() repeat a name)."""
    values: dict[str, list[str]] = {}
    for name, value in headers.items():
        values.setdefault(name.lower(), []).append(_SPACES.sub(" ", value.strip()))
    lines = [f"{name}:{','.join(values.get(name, []))}\n" for name in signed]
    return "\n".join(
        [
            method.upper(),
            _uri_encode(path),
            _canonical_query(query),
            "".join(lines),
            ";".join(signed),
            hashlib.sha256(body).hexdigest(),
        ]
    )


def signing_key(secret_access_key: str, date: str, region: str, service: str) -> bytes:
    """The derived key: HMAC-SHA256 chained over date, region, service and "aws4_request"."""
    key = ("AWS4" + secret_access_key).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signature(secret_access_key: str, amz_date: str, signed: SignedRequest, canonical: str) -> str:
    """The hex signature of a canonical request at `amz_date` (YYYYMMDDTHHMMSSZ) in `signed`'s scope."""
    string_to_sign = "\n".join(
        [ALGORITHM, amz_date, signed.scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = signing_key(secret_access_key, signed.date, signed.region, signed.service)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def request_time(headers: Mapping[str, str]) -> tuple[str, datetime]:
    """The request's X-Amz-Date (as sent, and parsed). Raises InvalidSignatureException without one."""
    lower = {k.lower(): v for k, v in headers.items()}
    amz_date = lower.get("x-amz-date", "")
    try:
        return amz_date, datetime.strptime(amz_date, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise InvalidSignatureException(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header "
            "in the format YYYYMMDDTHHMMSSZ"
        ) from None


def verify(
    *,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    signed: SignedRequest,
    secret_access_key: str,
    now: datetime,
) -> None:
    """Checks the signature and its time. Raises InvalidSignatureException with AWS's wording: "Signature
    expired: …" when the request time is more than 15 minutes from `now` (botocore reads that as clock skew),
    "The request signature we calculated does not match …" when the secret or the content differ."""
    amz_date, when = request_time(headers)
    if abs(now - when) > MAX_SKEW:
        limit = (now - MAX_SKEW) if when < now else (now + MAX_SKEW)
        word = "earlier" if when < now else "later"
        raise InvalidSignatureException(
            f"Signature expired: {amz_date} is now {word} than {limit.strftime(AMZ_DATE_FORMAT)} "
            f"({now.strftime(AMZ_DATE_FORMAT)} {'-' if when < now else '+'} 15 min.)"
        )
    if signed.date != amz_date[:8]:
        raise InvalidSignatureException(
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{signed.date}' != '{amz_date[:8]}'"
        )
    canonical = canonical_request(method, path, query, headers, signed.signed_headers, body)
    expected = signature(secret_access_key, amz_date, signed, canonical)
    if not hmac.compare_digest(expected, signed.signature):
        raise InvalidSignatureException(
            "The request signature we calculated does not match the signature you provided. Check your "
            "AWS Secret Access Key and signing method. Consult the service documentation for details."
        )
