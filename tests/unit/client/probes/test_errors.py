"""The sentences probes give for a broken HTTP exchange."""

from __future__ import annotations

import http.client
import ssl

import pytest

from waddleperf.probes.errors import describe_error


def _cert_error() -> ssl.SSLCertVerificationError:
    exc = ssl.SSLCertVerificationError(1, "certificate verify failed")
    exc.verify_message = "self-signed certificate"
    return exc


@pytest.mark.parametrize(
    ("exc", "sentence"),
    [
        (TimeoutError(), "No answer within 2.5 s"),
        (_cert_error(), "TLS certificate not accepted: self-signed certificate"),
        (ConnectionRefusedError(111, "Connection refused"),
         "Connection refused (nothing listening on that port)"),
        (http.client.BadStatusLine("SSH-2.0-OpenSSH"),
         "Not a valid HTTP response (BadStatusLine: SSH-2.0-OpenSSH)"),
        (OSError(113, "No route to host"), "[Errno 113] No route to host"),
    ],
)  # fmt: skip
def test_sentences(exc: BaseException, sentence: str) -> None:
    assert describe_error(exc, 2.5) == sentence


def test_tls_failure_names_the_reason() -> None:
    exc = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    exc.reason = "WRONG_VERSION_NUMBER"
    assert describe_error(exc, 1) == "TLS failed: WRONG_VERSION_NUMBER"
