"""Terminal chat (`hrbot shell`): type as any person of the directory, tap buttons by number."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.local_chat import LocalChat
from bot.messenger import OutboundMessage
from cards.models import Card
from cards.render_text import text_card
from storage.models import Person

Write = Callable[[str], None]

# The shell's own chrome (not bot answers, which come from card templates).
CHROME = {
    "zh": {
        "banner": "HR助手 终端聊天。你现在是 {name}（{org}）。/help 查看命令。",
        "help": "直接输入消息与 HR助手 对话，例如：推荐 店长 张三 13800138000 曾将社区商场月客流"
        "提升30%\n/tap N 点最近卡片的第 N 个按钮；/tap 卡片号.N 点指定卡片\n/as 姓名 切换身份"
        "\n/who 通讯录\n/inbox 我的全部卡片\n/group 群名 消息  在群里@HR助手\n/quit 退出",
        "now": "你现在是 {name}（{org}）。",
        "unknown_person": "通讯录里没有 {name}。/who 查看所有人。",
        "no_button": "没有可点的按钮。/inbox 查看卡片编号。",
        "elsewhere": "  → 已发给 {name}：{title}（/as {name} 查看）",
        "bad_command": "不认识的命令 {cmd}。/help 查看命令。",
    },
    "en": {
        "banner": "hrbot terminal chat. You are {name} ({org}). /help for commands.",
        "help": "Type a message to talk to the bot, e.g. refer 店长 张三 13800138000 grew traffic"
        " 30%\n/tap N taps button N of the latest card; /tap CARD.N a given card\n/as NAME"
        " switch person\n/who directory\n/inbox all my cards\n/group NAME text  say it"
        " in a group\n/quit exit",
        "now": "You are now {name} ({org}).",
        "unknown_person": "{name} is not in the directory. /who lists everyone.",
        "no_button": "No button to tap. /inbox shows card numbers.",
        "elsewhere": "  → sent to {name}: {title} (/as {name} to see it)",
        "bad_command": "Unknown command {cmd}. /help lists commands.",
    },
}


class Shell:
    def __init__(
        self, chat: LocalChat, people: list[Person], me: Person, write: Write, locale: str = "zh"
    ) -> None:
        self.chat = chat
        self.people = people
        self.me = me
        self.write = write
        self.text = CHROME.get(locale, CHROME["zh"])

    def find(self, name: str) -> Person | None:
        for person in self.people:
            if name in (person.name, person.employee_no):
                return person
        return None

    def banner(self) -> None:
        self.write(self.text["banner"].format(name=self.me.name, org=self.me.org_path))

    async def handle(self, line: str) -> bool:
        """Handle one typed line; False when the user wants to leave."""
        line = line.strip()
        if not line:
            return True
        if not line.startswith("/"):
            self._show(await self.chat.say(self.me.employee_no, line))
            return True
        command, _, rest = line.partition(" ")
        actions: dict[str, Callable[[str], Awaitable[bool]]] = {
            "/quit": self._quit,
            "/exit": self._quit,
            "/help": self._help,
            "/as": self._as,
            "/who": self._who,
            "/inbox": self._inbox,
            "/tap": self._tap,
            "/group": self._group,
        }
        action = actions.get(command)
        if action is None:
            self.write(self.text["bad_command"].format(cmd=command))
            return True
        return await action(rest.strip())

    async def _quit(self, _: str) -> bool:
        return False

    async def _help(self, _: str) -> bool:
        self.write(self.text["help"])
        return True

    async def _as(self, name: str) -> bool:
        person = self.find(name)
        if person is None:
            self.write(self.text["unknown_person"].format(name=name))
            return True
        self.me = person
        self.write(self.text["now"].format(name=person.name, org=person.org_path))
        return True

    async def _who(self, _: str) -> bool:
        for person in self.people:
            roles = ",".join(person.roles)
            self.write(f"  {person.employee_no} {person.name}  {person.org_path}  [{roles}]")
        return True

    async def _inbox(self, _: str) -> bool:
        for number, card in enumerate(self.chat.inbox(self.me.employee_no), 1):
            self.write(f"#{number}")
            self.write(text_card(card))
        return True

    async def _tap(self, arg: str) -> bool:
        cards = self.chat.inbox(self.me.employee_no)
        card_no, _, button_no = arg.rpartition(".")
        card: Card | None = None
        if card_no.isdigit() and 0 < int(card_no) <= len(cards):
            card = cards[int(card_no) - 1]
        elif not card_no:
            card = next((c for c in reversed(cards) if c.buttons), None)
        if card is None or not button_no.isdigit() or not 0 < int(button_no) <= len(card.buttons):
            self.write(self.text["no_button"])
            return True
        button = card.buttons[int(button_no) - 1]
        self._show(await self.chat.tap(self.me.employee_no, card, button))
        return True

    async def _group(self, rest: str) -> bool:
        name, _, text = rest.partition(" ")
        self._show(await self.chat.say(self.me.employee_no, text, group=name or "demo"))
        return True

    def _show(self, messages: list[OutboundMessage]) -> None:
        names = {p.employee_no: p.name for p in self.people}
        for message in messages:
            mine = message.target == self.me.employee_no or message.target.startswith("group:")
            if mine:
                if message.target.startswith("group:"):
                    self.write(f"[{message.target[6:]}]")
                self.write(text_card(message.card))
            else:
                name = names.get(message.target, message.target)
                self.write(self.text["elsewhere"].format(name=name, title=message.card.title))
