"""The hub as the chain's CA, on SQLite and PostgreSQL: its keys made at first start (0600), a
gateway's CSR registered with a code on the open endpoint, HQ entering the code (once: a race
of approvals signs one certificate), the certificate's CN the approved identity, renewal with
the same key, decommissioning into the CRL; bad input refused with reasons."""

from __future__ import annotations

import stat

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from rig.race import race
from tests.hub.auth.conftest import Hub


def csr_for(cn: str, key: ec.EllipticCurvePrivateKey | None = None) -> tuple[str, object]:
    key = key or ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode(), key


def register(hub: Hub, code: str, cn: str = "sh1/g1") -> tuple[dict, object]:
    pem, key = csr_for(cn)
    r = hub.client.post("/api/pairing/requests", json={"code": code, "csr": pem})
    assert r.status_code == 201, r.text
    return r.json(), key


def test_ca_made_at_first_start_with_private_keys_0600(hub: Hub) -> None:
    folder = hub.data_dir / "pairing"
    for name in ("ca.key", "hub.key"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
    ca = x509.load_pem_x509_certificate((folder / "ca.crt").read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    mine = x509.load_pem_x509_certificate((folder / "hub.crt").read_bytes())
    assert mine.subject.rfc4514_string() == "CN=hub"
    mine.verify_directly_issued_by(ca)
    crl = x509.load_pem_x509_crl((folder / "crl.pem").read_bytes())
    assert crl.is_signature_valid(ca.public_key()) and len(crl) == 0
    # pushed to the broker, never fetched: it must not expire before the CA (OpenSSL would
    # then refuse every client)
    assert crl.next_update_utc == ca.not_valid_after_utc


def test_code_entered_at_hq_signs_the_gateways_csr(hub: Hub) -> None:
    req, key = register(hub, "ABCD2345")
    assert (req["store"], req["gateway"]) == ("sh1", "g1")
    assert hub.client.get(f"/api/pairing/requests/{req['request_id']}").json()["state"] == (
        "pending"
    )
    tech = hub.as_(hub.token("technician"))
    listed = hub.client.get("/api/pairing/requests", headers=tech).json()["pending"]
    assert [(p["store"], p["gateway"]) for p in listed] == [("sh1", "g1")]
    assert "ABCD2345" not in str(listed)  # the code comes only from the gateway's page
    # a code for another gateway than HQ means is refused, nothing signed
    wrong = hub.client.post("/api/pairing", json={"code": "ABCD2345", "store": "bj1"}, headers=tech)
    assert wrong.status_code == 409 and "sh1/g1" in wrong.json()["detail"]

    ok = hub.client.post("/api/pairing", json={"code": "abcd2345"}, headers=tech)
    assert ok.status_code == 200, ok.text
    cert = x509.load_pem_x509_certificate(ok.json()["certificate"].encode())
    ca = x509.load_pem_x509_certificate(ok.json()["ca"].encode())
    cert.verify_directly_issued_by(ca)
    assert cert.subject.rfc4514_string() == "CN=sh1/g1"
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert "broker_url" in ok.json()  # (none configured in-process)

    fetched = hub.client.get(f"/api/pairing/requests/{req['request_id']}").json()
    assert fetched["state"] == "approved" and fetched["certificate"] == ok.json()["certificate"]
    again = hub.client.post("/api/pairing", json={"code": "ABCD2345"}, headers=tech)
    assert again.status_code == 409
    assert hub.client.get("/api/pairing/requests", headers=tech).json()["pending"] == []


def test_a_code_is_approved_once_under_a_race(hub: Hub) -> None:
    register(hub, "RACE2345")
    pairing, db = hub.client.app.state.pairing, hub.client.app.state.db

    def approve(_: int) -> object:
        with db.sessions() as s:
            return pairing.approve(s, "RACE2345", None, None, "racer")

    results = race(5, approve)
    assert sum(isinstance(r, dict) for r in results) == 1, results
    with db.sessions() as s:
        from hub.pairing.models import GatewayCertificate

        assert s.query(GatewayCertificate).count() == 1


def test_renewal_keeps_key_and_identity_decommission_revokes_into_the_crl(hub: Hub) -> None:
    req, key = register(hub, "RENEW234")
    tech = hub.as_(hub.token("technician"))
    first = hub.client.post("/api/pairing", json={"code": "RENEW234"}, headers=tech).json()
    pem, _ = csr_for("bj1/evil", key)  # the CN asked for is ignored: the certificate's counts
    renewed = hub.client.post(
        "/api/pairing/renewals", json={"certificate": first["certificate"], "csr": pem}
    )
    assert renewed.status_code == 200, renewed.text
    new = x509.load_pem_x509_certificate(renewed.json()["certificate"].encode())
    assert new.subject.rfc4514_string() == "CN=sh1/g1"
    # another key cannot renew someone's certificate
    other, _ = csr_for("sh1/g1")
    stolen = hub.client.post(
        "/api/pairing/renewals", json={"certificate": first["certificate"], "csr": other}
    )
    assert stolen.status_code == 422 and "key" in stolen.json()["detail"]

    assert hub.client.post("/api/gateways/sh1/g1/decommission", headers=tech).status_code == 403
    gone = hub.client.post("/api/gateways/sh1/g1/decommission", headers=hub.admin())
    assert gone.status_code == 200 and len(gone.json()["revoked"]) == 2
    crl = x509.load_pem_x509_crl((hub.data_dir / "pairing" / "crl.pem").read_bytes())
    assert {f"{r.serial_number:X}" for r in crl} == set(gone.json()["revoked"])
    assert crl.get_revoked_certificate_by_serial_number(new.serial_number) is not None
    refused = hub.client.post(
        "/api/pairing/renewals", json={"certificate": renewed.json()["certificate"], "csr": pem}
    )
    assert refused.status_code == 403
    assert hub.client.get(f"/api/pairing/requests/{req['request_id']}").json()["state"] == (
        "revoked"
    )


def test_bad_requests_get_reasons(hub: Hub) -> None:
    pem, _ = csr_for("sh1/g2")
    cases = [
        ({"code": "short", "csr": pem}, 422, "code"),
        ({"code": "ABCD2345", "csr": "not a csr"}, 422, "csr"),
        ({"code": "ABCD2345", "csr": csr_for("no-slash")[0]}, 422, "CN"),
        ({"code": "ABCD2345", "csr": csr_for("hub/x")[0]}, 422, "CN"),
        ({"code": "ABCD2345", "csr": "x" * 9000}, 422, ""),
    ]
    for body, status, reason in cases:
        r = hub.client.post("/api/pairing/requests", json=body)
        assert r.status_code == status, (body["code"], r.text)
        assert reason in r.text
    big = hub.client.post(
        "/api/pairing/requests",
        content=b"{" + b" " * 20000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert big.status_code == 413
    register(hub, "TAKEN234")
    taken = hub.client.post("/api/pairing/requests", json={"code": "TAKEN234", "csr": pem})
    assert taken.status_code == 409
    unknown = hub.client.post("/api/pairing", json={"code": "NOPE2345"}, headers=hub.admin())
    assert unknown.status_code == 404


def test_the_open_endpoint_is_rate_limited_per_address(hub: Hub) -> None:
    statuses = [
        hub.client.post("/api/pairing/requests", json={"code": "x", "csr": "y"}).status_code
        for _ in range(22)
    ]
    assert statuses[:20] == [422] * 20 and statuses[20:] == [429, 429]
    # polling has its own, larger allowance: a waiting gateway is not locked out by it
    assert hub.client.get("/api/pairing/requests/nope").status_code == 404
