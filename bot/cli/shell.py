"""Terminal chat (`hrbot shell`): type as any person of the directory, tap buttons by number,
paste multi-line referrals, move the clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.cli.local_chat import LocalChat
from bot.cli.shell_clock import ShellClock, held_until, next_due, target_of
from bot.pipeline.messenger import OutboundMessage
from cards.models import Card
from cards.render import render_text
from cards.render_text import text_card
from storage.models import Person

Write = Callable[[str], None]

class Shell:
    def __init__(
        self, chat: LocalChat, people: list[Person], me: Person, write: Write, locale: str = "zh"
    ) -> None:
        self.chat = chat
        self.people = people
        self.me = me
        self.write = write
        self.locale = locale
        # Lines of a message still being typed: after "/paste", or a line ending in "\".
        self.pending: list[str] | None = None
        self.pasting = False

    @property
    def prompt(self) -> str:
        return "... " if self.pending is not None else f"{self.me.name}> "

    def say(self, which: str, **context: str) -> None:
        """Write one of the shell's own lines (its text lives in cards/templates)."""
        text = render_text(name="shell", context={"which": which, **context}, locale=self.locale)
        # Lines about other people's chats are indented under the card that caused them.
        self.write(("  " if which == "elsewhere" else "") + text)

    def find(self, name: str) -> Person | None:
        for person in self.people:
            if name in (person.name, person.employee_no):
                return person
        return None

    def banner(self) -> None:
        self.say("banner", name=self.me.name, org=self.me.org_path)

    async def handle(self, line: str) -> bool:
        """Handle one typed line; False when the user wants to leave."""
        if self.pending is not None or line.rstrip().endswith("\\"):
            text = self._continued(line)
            if text is None:
                return True
            line = text
        else:
            line = line.strip()
        if not line:
            return True
        if not line.startswith("/") or "\n" in line:
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
            "/paste": self._paste,
            "/clock": self._clock,
            "/next": self._next,
        }
        action = actions.get(command)
        if action is None:
            self.say("bad_command", cmd=command)
            return True
        return await action(rest.strip())

    def _continued(self, line: str) -> str | None:
        """Collect a multi-line message; the whole text once it is complete, else None.

        "/paste" collects until a line with only "." ; a line ending in "\\" continues on
        the next line.
        """
        if self.pending is None:
            self.pending = []
        if self.pasting:
            if line.strip() != ".":
                self.pending.append(line.rstrip())
                return None
        else:
            stripped = line.rstrip()
            if stripped.endswith("\\"):
                self.pending.append(stripped[:-1].rstrip())
                return None
            self.pending.append(stripped)
        text = "\n".join(self.pending).strip()
        self.pending, self.pasting = None, False
        return text

    async def _paste(self, _: str) -> bool:
        self.pending, self.pasting = [], True
        self.say("paste")
        return True

    async def _clock(self, arg: str) -> bool:
        clock = self.chat.clock
        if not isinstance(clock, ShellClock):
            self.say("clock_fixed")
            return True
        if not arg:
            await self._say_time()
            return True
        target = target_of(arg, clock(), self.chat.settings.tz)
        if target is None:
            self.say("clock_bad", arg=arg)
            return True
        await self._move_to(clock, target)
        return True

    async def _next(self, _: str) -> bool:
        clock = self.chat.clock
        due = await next_due(self.chat, self.chat.clock())
        if not isinstance(clock, ShellClock) or due is None:
            self.say("clock_fixed" if due is not None else "no_next")
            return True
        await self._move_to(clock, due)
        return True

    async def _move_to(self, clock: ShellClock, target: datetime) -> None:
        clock.offset += target - clock()
        await self._say_time()
        self._show(await self.chat.tick())

    async def _say_time(self) -> None:
        now = self.chat.clock()
        local = now.astimezone(self.chat.settings.tz)
        held = await held_until(self.chat, now)
        shown = held.astimezone(self.chat.settings.tz) if held else None
        self.say("clock_now", now=f"{local:%Y-%m-%d %H:%M}", weekday=str(local.weekday()),
                 held=f"{shown:%m-%d %H:%M}" if shown else "")

    async def _quit(self, _: str) -> bool:
        return False

    async def _help(self, _: str) -> bool:
        self.say("help")
        return True

    async def _as(self, name: str) -> bool:
        person = self.find(name)
        if person is None:
            self.say("unknown_person", name=name)
            return True
        self.me = person
        self.say("now", name=person.name, org=person.org_path)
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
            self.say("no_button")
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
                self.say("elsewhere", name=name, title=message.card.title)
