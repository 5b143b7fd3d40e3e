"""WeCom callback crypto: the official vectors byte for byte, and every way to fail."""

from __future__ import annotations

import base64
import json
import re
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wechatpy.crypto.base import WeChatCipher
from wechatpy.enterprise.crypto import WeChatCrypto

from bot.adapters.wecom.crypto import CallbackCrypto, CallbackRejected, signature
from bot.core.errors import SignatureError
from tests._support.paths import PLATFORM_DATA

DATA = PLATFORM_DATA
VECTORS = {v["name"]: v for v in json.loads((DATA / "wecom_callback_vector.json").read_text())[
    "vectors"
]}
POST = VECTORS["doc_example_post_decrypt"]
GET = VECTORS["doc_sample_get_verify_url_old"]
LOCAL = VECTORS["local_deterministic_encrypt_reply"]


def crypto_for(vector: dict[str, str], receive_id: str | None = None) -> CallbackCrypto:
    return CallbackCrypto(
        vector["token"], vector["encoding_aes_key"], receive_id or vector["receiveid"]
    )


def signed(vector: dict[str, str], encrypted: str) -> tuple[str, str, str, str]:
    """(signature, timestamp, nonce, encrypted) with a valid signature over ``encrypted``."""
    ts, nonce = vector["timestamp"], vector["nonce"]
    return signature(vector["token"], ts, nonce, encrypted), ts, nonce, encrypted


def raw_cipher(vector: dict[str, str], plain: bytes) -> str:
    """AES-CBC-encrypt ``plain`` (already block-aligned) the WeCom way, base64."""
    key = base64.b64decode(vector["encoding_aes_key"] + "=")
    return base64.b64encode(WeChatCipher(key).encrypt(plain)).decode()


def test_official_post_vector_decrypts_byte_for_byte() -> None:
    args = (POST["msg_signature"], POST["timestamp"], POST["nonce"], POST["encrypt"])
    plain = crypto_for(POST).decrypt(*args)
    assert plain == POST["expected_plaintext"]
    # Same answer as the library we wrap.
    wechat = WeChatCrypto(POST["token"], POST["encoding_aes_key"], POST["receiveid"])
    assert plain == wechat.decrypt_message(
        POST["post_body"], POST["msg_signature"], POST["timestamp"], POST["nonce"]
    )


def test_official_get_vector_answers_the_echo() -> None:
    echo = crypto_for(GET).verify_url(
        GET["msg_signature"], GET["timestamp"], GET["nonce"], GET["echostr"]
    )
    assert echo == GET["expected_reply_body"] == "1616140317555161061"


def test_local_vector_signature_and_plaintext() -> None:
    assert (
        signature(LOCAL["token"], LOCAL["timestamp"], LOCAL["nonce"], LOCAL["expected_encrypt"])
        == LOCAL["expected_msg_signature"]
    )
    plain = crypto_for(LOCAL).decrypt(
        LOCAL["expected_msg_signature"], LOCAL["timestamp"], LOCAL["nonce"],
        LOCAL["expected_encrypt"],
    )
    assert plain == LOCAL["plaintext"]


def test_doc_signatures_are_reproduced() -> None:
    assert signature(POST["token"], POST["timestamp"], POST["nonce"], POST["encrypt"]) == (
        POST["msg_signature"]
    )
    assert signature(GET["token"], GET["timestamp"], GET["nonce"], GET["echostr"]) == (
        GET["msg_signature"]
    )


@pytest.mark.parametrize(
    "change",
    [
        {"msg_signature": "0" * 40},
        {"msg_signature": ""},
        {"timestamp": "1409659814"},
        {"nonce": "1372623150"},
    ],
)
def test_wrong_signature_is_refused(change: dict[str, str]) -> None:
    args = {k: POST[k] for k in ("msg_signature", "timestamp", "nonce")} | change
    with pytest.raises(CallbackRejected) as caught:
        crypto_for(POST).decrypt(
            args["msg_signature"], args["timestamp"], args["nonce"], POST["encrypt"]
        )
    assert caught.value.reason == "bad_signature" and caught.value.status == 403
    assert isinstance(caught.value, SignatureError)


def test_tampered_ciphertext_fails_the_signature() -> None:
    tampered = POST["encrypt"].replace("R", "S", 1)
    with pytest.raises(CallbackRejected, match="bad_signature"):
        crypto_for(POST).decrypt(POST["msg_signature"], POST["timestamp"], POST["nonce"], tampered)


def test_wrong_receive_id_is_refused() -> None:
    with pytest.raises(CallbackRejected) as caught:
        crypto_for(POST, receive_id="wwSomeOtherCorp").decrypt(
            POST["msg_signature"], POST["timestamp"], POST["nonce"], POST["encrypt"]
        )
    assert (caught.value.reason, caught.value.status) == ("bad_receive_id", 403)


@pytest.mark.parametrize(
    ("encrypted", "reason"),
    [
        ("!!!not base64!!!", "bad_base64"),
        ("QUJD\nREVG", "bad_base64"),  # whitespace is not tolerated
        ("中文", "bad_base64"),
        (base64.b64encode(b"x" * 20).decode(), "bad_length"),
        (base64.b64encode(b"x" * 48).decode(), "bad_length"),  # 16-aligned, not 32
    ],
)
def test_garbage_is_a_400(encrypted: str, reason: str) -> None:
    with pytest.raises(CallbackRejected) as caught:
        crypto_for(POST).decrypt(*signed(POST, encrypted))
    assert (caught.value.reason, caught.value.status) == (reason, 400)


def _layout(message: bytes, receive_id: bytes, declared: int | None = None) -> bytes:
    body = b"0123456789abcdef" + struct.pack(">I", len(message) if declared is None else declared)
    return body + message + receive_id


def _padded(plain: bytes) -> bytes:
    """Correct PKCS#7 (32-byte blocks), so only the part under test is wrong."""
    pad = 32 - len(plain) % 32
    return plain + bytes([pad]) * pad


@pytest.mark.parametrize(
    ("plain", "reason"),
    [
        (_layout(b"<xml/>", b"wx5823bf96d3bd56c7").ljust(63, b"A") + b"\x00", "bad_padding"),
        (_layout(b"<xml/>", b"wx5823bf96d3bd56c7").ljust(63, b"A") + b"\x21", "bad_padding"),
        (_layout(b"<xml/>", b"wx5823bf96d3bd56c7").ljust(60, b"A") + b"\x04\x04\x03\x04",
         "bad_padding"),
        (_padded(_layout(b"<xml/>", b"wx5823bf96d3bd56c7", declared=999)), "bad_length"),
        (b"0123456789abcdef" + b"\x1f" * 16 + b"\x20" * 32, "bad_length"),  # no length field
        (_padded(_layout(b"\xff\xfe", b"wx5823bf96d3bd56c7")), "bad_utf8"),
    ],
)
def test_bad_plaintext_layout_is_a_400(plain: bytes, reason: str) -> None:
    assert len(plain) % 32 == 0
    with pytest.raises(CallbackRejected) as caught:
        crypto_for(POST).decrypt(*signed(POST, raw_cipher(POST, plain)))
    assert (caught.value.reason, caught.value.status) == (reason, 400)


def test_bad_aes_key_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        CallbackCrypto("t", "short", "corp")


@settings(max_examples=60, deadline=None)
@given(message=st.text(max_size=300), nonce=st.text("0123456789", min_size=1, max_size=10))
def test_anything_wechatpy_encrypts_decrypts_back(message: str, nonce: str) -> None:
    wechat = WeChatCrypto(LOCAL["token"], LOCAL["encoding_aes_key"], LOCAL["receiveid"])
    reply = wechat.encrypt_message(message, nonce, "1476422779")
    encrypted = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]></Encrypt>", reply)
    sig = re.search(r"<MsgSignature><!\[CDATA\[(.*?)\]\]>", reply)
    assert encrypted and sig
    plain = crypto_for(LOCAL).decrypt(sig.group(1), "1476422779", nonce, encrypted.group(1))
    assert plain == message
