"""WeCom (企业微信) self-built app: encrypted callbacks in, app messages and cards out.

Source: https://developer.work.weixin.qq.com/document/path/90238 (接收消息与事件)
"""

from bot.adapters.wecom.adapter import WeComAdapter
from bot.adapters.wecom.client import SentMessage, WeComClient
from bot.adapters.wecom.crypto import CallbackCrypto, CallbackRejected
from bot.adapters.wecom.external import MessageTask
from bot.adapters.wecom.messenger import WeComMessenger
from bot.adapters.wecom.parse import MalformedCallback, parse_message

__all__ = [
    "CallbackCrypto",
    "CallbackRejected",
    "MalformedCallback",
    "MessageTask",
    "SentMessage",
    "WeComAdapter",
    "WeComClient",
    "WeComMessenger",
    "parse_message",
]
