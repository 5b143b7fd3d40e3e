"""What each platform must grant hrbot, per feature: the one table `hrbot doctor` checks and
the setup guide (docs/setup.md, `hrbot doctor --guide`) is printed from, so the two agree.

DingTalk permission points (权限点) are probed with a call whose parameters are left empty
on purpose: without the permission DingTalk answers HTTP 403
``Forbidden.AccessDenied.AccessTokenPermissionDenied`` (naming ``requiredScopes``), with
it a 400 about the missing parameters — nothing is sent to anyone.

Sources:
    https://open.dingtalk.com/document/orgapp/add-api-permission (permission points)
    https://github.com/casdoor/casdoor/pull/4469 (the 403 body with requiredScopes)
    https://developer.work.weixin.qq.com/document/path/90313 (WeCom error codes)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.config.schema import Config, DingTalkConfig

DINGTALK_CONSOLE = "https://open-dev.dingtalk.com"
WECOM_CONSOLE = "https://work.weixin.qq.com/wework_admin"


@dataclass(frozen=True)
class Permission:
    """One DingTalk permission point a feature needs, and the call that proves it."""

    feature: str
    scope: str
    name: str
    method: str
    path: str
    body: Callable[[DingTalkConfig], Any]
    needed: Callable[[Config], bool]


def _always(_: Config) -> bool:
    return True


DINGTALK_PERMISSIONS: tuple[Permission, ...] = (
    Permission(
        "robot messages to people and groups (every card, reminder and reply)",
        "qyapi_robot_sendmsg", "企业内机器人发送消息权限",
        "POST", "/v1.0/robot/oToMessages/batchSend",
        lambda c: {"robotCode": c.robot_code, "userIds": [], "msgKey": "sampleText",
                   "msgParam": "{}"},
        _always,
    ),
    Permission(
        "interactive cards (review, approval and feedback buttons; updates in place)",
        "Card.Instance.Write", "互动卡片实例写权限",
        "POST", "/v1.0/card/instances/createAndDeliver", lambda c: {}, _always,
    ),
    Permission(
        "DingTalk to-dos for each review and approval ([dingtalk] todo_url set)",
        "Todo.Todo.Write", "待办应用中待办写权限",
        "POST", "/v1.0/todo/users/{unionId}/tasks", lambda c: {},
        lambda config: bool(config.dingtalk and config.dingtalk.todo_url),
    ),
)

DINGTALK_SETUP: tuple[tuple[str, str], ...] = (
    ("App type", "企业内部应用 (internal app) with the 机器人 (robot) capability, published "
     "(版本管理与发布); AppKey, AppSecret and the robot's robotCode (= AppKey) go into "
     "[dingtalk] app_key / app_secret / robot_code."),
    ("Card template", "none to build: cards use the template DingTalk publishes for every app "
     "([dingtalk] card_template_id = \"\"). A template of your own must exist and be "
     "published in the card platform; `hrbot doctor` tries it."),
    ("Message receiving", "Stream mode (消息接收模式: Stream 模式), no public URL needed; or HTTP "
     "mode: mode = \"http\", public_url = the https address DingTalk reaches, message URL "
     "= public_url + http_callback_path. Card taps are registered at start "
     "(public_url + http_callback_path + \"/card\")."),
    ("Event subscriptions", "none: messages and card taps are callbacks, not events."),
    ("IP allowlist", "none required by DingTalk; outbound HTTPS to api.dingtalk.com, "
     "oapi.dingtalk.com and wss://wss-open-connection.dingtalk.com."),
    ("Directory", "`hrbot doctor` looks every person's dingtalk_user_id up (成员信息读权限, "
     "qyapi_get_member) and names those DingTalk does not know."),
    ("Leave sync", "[dingtalk] leave_sync = true needs the attendance read permission "
     "(考勤: 假期/请假状态读取); doctor names the exact point DingTalk asks for."),
)

WECOM_SETUP: tuple[tuple[str, str], ...] = (
    ("App type", "自建应用 (self-built app): corp_id (我的企业 → 企业ID), the app's AgentId and "
     "Secret (应用管理 → the app) go into [wecom] corp_id / agent_id / secret."),
    ("Visible range", "可见范围 must hold everyone who refers, reviews or approves: others get "
     "no cards (WeCom answers invaliduser)."),
    ("Interface licence", "each member needs a 接口许可 (basic licence) where WeCom requires "
     "them; unlicensed members are reported as unlicenseduser and HR is told."),
    ("Receiving messages", "接收消息 → 设置API接收: URL = public_url + [wecom] callback_path, "
     "Token and EncodingAESKey = [wecom] token / encoding_aes_key. WeCom checks the URL "
     "at once; `hrbot doctor` makes the same check when [wecom] public_url is set."),
    ("Trusted IPs", "企业可信IP: the server's public egress IP (else errcode 60020)."),
    ("Event subscriptions", "template card events arrive with the messages (no extra step)."),
)

# WeCom errcodes doctor explains (https://developer.work.weixin.qq.com/document/path/90313).
WECOM_FIXES: dict[int, str] = {
    40001: "the secret is wrong: copy the app's Secret (应用管理 → the app → Secret) into "
           "[wecom] secret / HRBOT_WECOM_SECRET",
    40091: "the secret is wrong: copy the app's Secret (应用管理 → the app → Secret)",
    40013: "the corp id is wrong: 我的企业 → 企业信息 → 企业ID into [wecom] corp_id",
    40056: "the agent id is wrong: 应用管理 → the app → AgentId into [wecom] agent_id",
    301002: "the agent id does not belong to this secret: use the same app's AgentId",
    60020: "this server's IP is not trusted: add it to 应用管理 → the app → 企业可信IP",
    48002: "the app may not call this API: check the app's permissions in the admin console",
}


def guide() -> str:
    """The setup guide in markdown, from the same table doctor checks."""
    lines = ["# Setting up hrbot on DingTalk and WeCom", "",
             "Generated by `hrbot doctor --guide` from the table `hrbot doctor` checks "
             "(bot/cli/doctor_table.py). After filling in config.toml, run `hrbot doctor`: "
             "one line per check, ✔ or ✘ with what to do.", "", "## DingTalk", ""]
    lines += [f"- **{title}**: {text}" for title, text in DINGTALK_SETUP]
    lines += ["", f"Permissions (开发者后台 {DINGTALK_CONSOLE} → the app → 权限管理):", "",
              "| feature | permission point | name in the console |", "|---|---|---|"]
    lines += [f"| {p.feature} | `{p.scope}` | {p.name} |" for p in DINGTALK_PERMISSIONS]
    lines += ["", "## WeCom", ""]
    lines += [f"- **{title}**: {text}" for title, text in WECOM_SETUP]
    lines += ["", f"Errors doctor explains (admin console {WECOM_CONSOLE}):", "",
              "| errcode | what to do |", "|---|---|"]
    lines += [f"| {code} | {fix} |" for code, fix in WECOM_FIXES.items()]
    return "\n".join(lines) + "\n"
