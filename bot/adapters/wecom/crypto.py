"""WeCom callback signatures and AES decryption (消息加解密).

Wraps wechatpy's ``WeChatCrypto`` (key handling, the AES-256-CBC cipher) but does the
checks itself: wechatpy compares signatures with ``!=``, accepts non-base64 characters,
never checks the PKCS#7 padding or the declared message length, and fails on garbage with
whatever ``struct``/``UnicodeDecodeError`` comes first. Every refusal here is one
:class:`CallbackRejected` with a reason and the HTTP status to answer.

Sources:
    https://developer.work.weixin.qq.com/document/path/90968 (加解密方案说明)
    https://developer.work.weixin.qq.com/document/path/90930 (回调配置: URL verification)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct

from wechatpy.crypto.base import WeChatCipher
from wechatpy.enterprise.crypto import WeChatCrypto

from bot.core.errors import SignatureError

BLOCK = 32  # WeCom pads to 32-byte blocks, not AES's 16
RANDOM_PREFIX = 16


class CallbackRejected(SignatureError):
    """A callback that failed verification or decryption.

    Attributes:
        reason: Short machine-readable cause, safe to log (never contains secrets).
        status: HTTP status to answer with.
    """

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def bad_signature() -> CallbackRejected:
    return CallbackRejected("bad_signature", 403)


def bad_receive_id() -> CallbackRejected:
    return CallbackRejected("bad_receive_id", 403)


def bad_encoding(what: str) -> CallbackRejected:
    return CallbackRejected(f"bad_{what}", 400)


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    """``msg_signature``: sha1 of the four values sorted and concatenated, lower-case hex."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


class CallbackCrypto:
    """Verifies and decrypts WeCom callbacks for one app.

    Args:
        token: The callback Token configured in the admin console.
        encoding_aes_key: The 43-character EncodingAESKey.
        corp_id: Expected receiveid (the corp id, for self-built apps).

    Raises:
        ValueError: ``encoding_aes_key`` does not decode to 32 bytes.
    """

    def __init__(self, token: str, encoding_aes_key: str, corp_id: str) -> None:
        try:
            self._wechat = WeChatCrypto(token, encoding_aes_key, corp_id)
        except (AssertionError, binascii.Error) as err:
            raise ValueError("EncodingAESKey must decode to 32 bytes") from err
        self._token = token
        self._corp_id = corp_id.encode()
        # One cipher for the app's key (the IV is the key's first half); each message gets
        # a decryptor of its own from it.
        self._cipher = WeChatCipher(self._wechat.key)

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """Check the GET verification request and return the decrypted ``echostr``.

        Raises:
            CallbackRejected: Wrong signature, receiveid or encoding.
        """
        self._check(msg_signature, timestamp, nonce, echostr)
        return self._decrypt(echostr)

    def decrypt(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> str:
        """Check a POST's ``Encrypt`` value and return the plaintext XML.

        Raises:
            CallbackRejected: Wrong signature, receiveid or encoding.
        """
        self._check(msg_signature, timestamp, nonce, encrypted)
        return self._decrypt(encrypted)

    def _check(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        expected = signature(self._token, timestamp, nonce, encrypted)
        # Constant-time: the signature is the only thing standing between a forger and us.
        if not hmac.compare_digest(expected.encode(), msg_signature.lower().encode()):
            raise bad_signature()

    def _decrypt(self, encrypted: str) -> str:
        try:
            raw = base64.b64decode(encrypted.encode("ascii"), validate=True)
        except (UnicodeEncodeError, binascii.Error):
            raise bad_encoding("base64") from None
        if not raw or len(raw) % BLOCK:
            raise bad_encoding("length")
        plain = self._cipher.decrypt(raw)
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise bad_encoding("padding")
        content = plain[RANDOM_PREFIX:-pad]
        if len(content) < 4:
            raise bad_encoding("length")
        (length,) = struct.unpack(">I", content[:4])
        if length > len(content) - 4:
            raise bad_encoding("length")
        message, receive_id = content[4 : 4 + length], content[4 + length :]
        if not hmac.compare_digest(receive_id, self._corp_id):
            raise bad_receive_id()
        try:
            return message.decode("utf-8")
        except UnicodeDecodeError:
            raise bad_encoding("utf8") from None
