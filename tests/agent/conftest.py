"""Fixtures: a dev CA with RSA and ECDSA bidder certificates, and SoftHSM2 tokens holding their keys.

SoftHSM reads SOFTHSM2_CONF when its library is initialised, once per process: the tokens are made
for the whole session in one directory and this process's environment points there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tenderhall.identifiers import make_credit_code
from tenderhall.pki.devca import DevCA, Issued
from tests.agent.softhsm import SoftToken, make_token, softhsm_dir, softhsm_module

RSA_CODE = make_credit_code("91350100M00040001")
EC_CODE = make_credit_code("91350100M00040002")
RSA_COMPANY = "福建省签名助手测试有限公司"
EC_COMPANY = "厦门椭圆曲线建设有限公司"


@pytest.fixture(scope="session")
def agent_ca(tmp_path_factory: pytest.TempPathFactory) -> DevCA:
    ca = DevCA(tmp_path_factory.mktemp("agent-ca"))
    ca.init()
    return ca


@pytest.fixture(scope="session")
def rsa_cert(agent_ca: DevCA, tmp_path_factory: pytest.TempPathFactory) -> Issued:
    out = tmp_path_factory.mktemp("agent-p12") / "rsa.p12"
    return agent_ca.issue("bidder-sign", name=RSA_COMPANY, credit_code=RSA_CODE, out=out, password="p12-pass")


@pytest.fixture(scope="session")
def ec_cert(agent_ca: DevCA) -> Issued:
    return agent_ca.issue("bidder-sign", name=EC_COMPANY, credit_code=EC_CODE, key_type="ec")


@pytest.fixture(scope="session")
def enc_cert(agent_ca: DevCA, tmp_path_factory: pytest.TempPathFactory) -> Issued:
    """The company's encryption certificate (Chinese CAs issue one beside the signing one)."""
    out = tmp_path_factory.mktemp("agent-p12") / "enc.p12"
    return agent_ca.issue("bidder-enc", name=RSA_COMPANY, credit_code=RSA_CODE, out=out, password="enc-pass")


@pytest.fixture(scope="session")
def tokens(
    tmp_path_factory: pytest.TempPathFactory, rsa_cert: Issued, ec_cert: Issued, enc_cert: Issued
) -> Iterator[dict[str, SoftToken]]:
    module = softhsm_module()
    conf = softhsm_dir(tmp_path_factory.mktemp("softhsm"))
    made = {
        "rsa": make_token(conf, module, rsa_cert, label="ukey-rsa", pin="246810"),
        "ec": make_token(conf, module, ec_cert, label="ukey-ec", pin="135791", key_id="02"),
        "enc": make_token(conf, module, enc_cert, label="ukey-enc", pin="112233", key_id="03"),
    }
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOFTHSM2_CONF", str(conf))
        yield made


@pytest.fixture
def rsa_token(tokens: dict[str, SoftToken]) -> SoftToken:
    return tokens["rsa"]


@pytest.fixture
def ec_token(tokens: dict[str, SoftToken]) -> SoftToken:
    return tokens["ec"]


@pytest.fixture
def enc_token(tokens: dict[str, SoftToken]) -> SoftToken:
    return tokens["enc"]


@pytest.fixture
def p12_path(rsa_cert: Issued) -> Path:
    assert rsa_cert.path is not None
    return rsa_cert.path
