"""SigV4 verification (kemr/emrapi/auth/sigv4.py) against AWS's published test vectors
(aws-sig-v4-test-suite: get-vanilla, get-vanilla-query-order-key-case) and its refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kemr.emrapi.auth import sigv4
from kemr.emrapi.errors import InvalidSignatureException, MissingAuthenticationTokenException

SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
WHEN = datetime(2015, 8, 30, 12, 36, tzinfo=UTC)
HEADERS = {"Host": "example.amazonaws.com", "X-Amz-Date": "20150830T123600Z"}
SCOPE = sigv4.SignedRequest("AKIDEXAMPLE", "20150830", "us-east-1", "service", ("host", "x-amz-date"), "")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        ("Param2=value2&Param1=value1", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
    ],
)
def test_aws_test_vectors(query: str, expected: str) -> None:
    canonical = sigv4.canonical_request("GET", "/", query, HEADERS, SCOPE.signed_headers, b"")
    assert sigv4.signature(SECRET, "20150830T123600Z", SCOPE, canonical) == expected


def _signed(body: bytes, secret: str = SECRET, when: datetime = WHEN) -> dict[str, str]:
    """Headers of an EMR request signed with `secret` at `when` (our signer: the vectors above prove it)."""
    amz_date = when.strftime(sigv4.AMZ_DATE_FORMAT)
    headers = {
        "Host": "emr.kemr.svc:8443",
        "X-Amz-Date": amz_date,
        "X-Amz-Target": "ElasticMapReduce.ListClusters",
    }
    scope = sigv4.SignedRequest(
        "AKID", amz_date[:8], "eu-west-1", "elasticmapreduce", ("host", "x-amz-date", "x-amz-target"), ""
    )
    canonical = sigv4.canonical_request("POST", "/", "", headers, scope.signed_headers, body)
    sig = sigv4.signature(secret, amz_date, scope, canonical)
    credential = f"AKID/{scope.scope}"
    signed_headers = "host;x-amz-date;x-amz-target"
    headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders={signed_headers}, Signature={sig}"
    )
    return headers


def _verify(headers: dict[str, str], body: bytes, now: datetime = WHEN) -> None:
    signed = sigv4.parse_authorization(headers)
    sigv4.verify(
        method="POST", path="/", query="", headers=headers, body=body, signed=signed,
        secret_access_key=SECRET, now=now,
    )  # fmt: skip


def test_a_good_signature_passes_and_names_its_scope() -> None:
    headers = _signed(b"{}")
    _verify(headers, b"{}")
    signed = sigv4.parse_authorization(headers)
    assert (signed.access_key_id, signed.region) == ("AKID", "eu-west-1")


def test_a_wrong_secret_or_changed_body_is_refused() -> None:
    with pytest.raises(InvalidSignatureException, match="does not match"):
        _verify(_signed(b"{}", secret="wrong"), b"{}")
    with pytest.raises(InvalidSignatureException, match="does not match"):
        _verify(_signed(b"{}"), b'{"ClusterStates": ["RUNNING"]}')


def test_a_skewed_clock_is_refused_as_expired() -> None:
    with pytest.raises(
        InvalidSignatureException, match=r"^Signature expired: 20150830T123600Z is now earlier"
    ):
        _verify(_signed(b"{}"), b"{}", now=WHEN + timedelta(minutes=16))
    _verify(_signed(b"{}"), b"{}", now=WHEN + timedelta(minutes=14))


def test_missing_or_foreign_authorization() -> None:
    with pytest.raises(MissingAuthenticationTokenException):
        sigv4.parse_authorization({})
    header = _signed(b"{}")["Authorization"].replace("elasticmapreduce", "s3")
    with pytest.raises(InvalidSignatureException, match="correct service"):
        sigv4.parse_authorization({"Authorization": header})
