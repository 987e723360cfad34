"""redact() hides every credential a store URL may carry and keeps everything else."""

from __future__ import annotations

import pytest

from flowpack.cas.urls import redact, scrub


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://bucket/prefix", "s3://bucket/prefix"),
        ("/srv/flowpack/store", "/srv/flowpack/store"),
        ("file:///srv/store", "file:///srv/store"),
        ("https://user:hunter2@example.com/x", "https://user:***@example.com/x"),
        ("https://user:@example.com/x", "https://user:***@example.com/x"),
        ("git+ssh://git@github.com/o/r.git", "git+ssh://git@github.com/o/r.git"),
        (
            "git+https://ghp_abcdefghijklmnopqrstuvwxyz0123456789@github.com/o/r",
            "git+https://***@github.com/o/r",
        ),
        ("https://glpat-abc@gitlab.com/o/r", "https://***@gitlab.com/o/r"),
        ("oci+https://u:p@registry:5000/repo", "oci+https://u:***@registry:5000/repo"),
        (
            "az://c/p?sv=2022-11-02&sig=abc%2Bdef&se=2030",
            "az://c/p?sv=2022-11-02&sig=***&se=2030",
        ),
        (
            "s3://b/k?X-Amz-Credential=AKIA&X-Amz-Signature=ff&X-Amz-Security-Token=t&a=1",
            "s3://b/k?X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Security-Token=***&a=1",
        ),
        (
            "https://h/x?token=t&api_key=k&password=p&page=2",
            "https://h/x?token=***&api_key=***&password=***&page=2",
        ),
        (
            "https://h/x?access_token=t&client_secret=s",
            "https://h/x?access_token=***&client_secret=***",
        ),
        ("https://h/x?key=k&keep=1", "https://h/x?key=***&keep=1"),
        ("https://h/cb#access_token=abc&state=1", "https://h/cb#access_token=***&state=1"),
        ("https://h/x?flag", "https://h/x?flag"),
    ],
)
def test_redact(url: str, expected: str) -> None:
    assert redact(url) == expected


def test_secrets_never_survive() -> None:
    for url in [
        "https://alice:s3cr3t@h/x",
        "https://h/x?SAS=s3cr3t",
        "https://h/x?Sig=s3cr3t",
        "https://h/x?private_token=s3cr3t",
        "gs://b/x?credentials=s3cr3t",
    ]:
        assert "s3cr3t" not in redact(url), url


def test_unparsable_urls_are_still_redacted() -> None:
    assert redact("https://user:s3cr3t@[::1/x") == "https://user:***@[::1/x"


def test_redaction_is_idempotent() -> None:
    url = "https://u:p@h/x?token=t"
    assert redact(redact(url)) == redact(url)


def test_secrets_inside_option_values_are_masked() -> None:

    secret = "S3CR3Tvalue99"
    for url in [
        f"s3://b/p?endpoint_url=http://user:{secret}@h:9000",
        f"s3://b/p?storage_options=a%26token%3D{secret}",
        f"file://user:{secret}@host/x",
        f"file:///x?token={secret}",
    ]:
        assert secret not in redact(url), url
        assert secret not in scrub(f"error: cannot open {url!r}: refused"), url


def test_scrub_keeps_prose_and_digests() -> None:

    for text in [
        "no usable credentials: the account key is not valid base64",
        "ref flows/p/f: expected blake3:0011, found blake3:2233",
        "no such file or directory: /tmp/x",
    ]:
        assert scrub(text) == text
