"""DingTalk adapter: Stream client, HTTP callbacks, OpenAPI client and messenger.

Source: https://open.dingtalk.com/document/direction/stream-mode-protocol-access-description
"""

from bot.adapters.dingtalk.assemble import DingTalkParts, assemble
from bot.adapters.dingtalk.client import DingTalkClient
from bot.adapters.dingtalk.http_mode import DingTalkHttpAdapter
from bot.adapters.dingtalk.ids import card_key_of, out_track_id
from bot.adapters.dingtalk.messenger import DingTalkMessenger
from bot.adapters.dingtalk.parse import parse_card_event, parse_robot_message
from bot.adapters.dingtalk.stream import DingTalkStream

__all__ = [
    "DingTalkClient",
    "DingTalkHttpAdapter",
    "DingTalkMessenger",
    "DingTalkParts",
    "DingTalkStream",
    "assemble",
    "card_key_of",
    "out_track_id",
    "parse_card_event",
    "parse_robot_message",
]
