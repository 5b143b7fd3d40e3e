// The emulator page: polls the sandbox JSON API and draws chats and cards. No framework.
"use strict";

const boot = JSON.parse(document.getElementById("boot").textContent);
const params = new URLSearchParams(location.search);
const state = {
  person: params.get("person") || localStorage.getItem("sandbox.person") || boot.startPerson,
  platform: params.get("platform") || localStorage.getItem("sandbox.platform") || "dingtalk",
  conversation: "dm",
  revision: null,
  busy: false,
  cards: new Map(),  // card id -> version last drawn, to flash the ones that change
  lastSeq: null,  // newest message drawn, to flash what arrives
  seen: JSON.parse(localStorage.getItem("sandbox.seen") || "{}"),  // "E020/dingtalk" -> count
  counts: {},
  second: null,  // the person of the second pane (双栏), or null when it is closed
  secondRevision: null,
};
const $ = (id) => document.getElementById(id);
const PLATFORM_NAMES = { dingtalk: "钉钉", wecom: "企业微信" };
const personName = (id) => (boot.people.find((p) => p.id === id) || { name: id }).name;

function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => (
    { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

// Enough markdown for bot messages: headings, bold, lists, quotes, WeCom <font color>.
function markdown(text) {
  return escapeHtml(text).split("\n").map((line) => {
    let html = line
      .replace(/\*\*(.+?)\*\*/g, "<b>$1</b>")
      .replace(/&lt;font color=&quot;(\w+)&quot;&gt;(.*?)&lt;\/font&gt;/g,
        '<span class="font-$1">$2</span>');
    if (/^#{1,6} /.test(line)) return `<div class="md-h">${html.replace(/^#+ /, "")}</div>`;
    if (/^[-*] /.test(line)) return `<div class="md-li">• ${html.slice(2)}</div>`;
    if (/^&gt; ?/.test(html)) return `<div class="md-quote">${html.replace(/^&gt; ?/, "")}</div>`;
    return html === "" ? "<br>" : `<div>${html}</div>`;
  }).join("");
}

function toast(text, kind = "error") {
  const box = $("toast");
  box.textContent = text;
  box.className = `toast ${kind}`;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 4000);
}

async function call(method, path, body) {
  const response = await fetch(`/sandbox/api/${path}`, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

function query(extra = {}) {
  const q = new URLSearchParams({ person: state.person, platform: state.platform, ...extra });
  return q.toString();
}

function formatTime(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function renderCard(card) {
  const fields = card.fields.map((f) =>
    `<div class="field"><span class="label">${escapeHtml(f.label)}</span>` +
    `<span class="value">${escapeHtml(f.value)}</span></div>`).join("");
  const buttons = card.buttons.map((b) =>
    `<button type="button" class="card-btn ${escapeHtml(b.style)}" ${b.enabled ? "" : "disabled"}` +
    ` data-card="${escapeHtml(card.id)}" data-action="${escapeHtml(b.id)}">` +
    `${escapeHtml(b.label)}</button>`).join("");
  const wecom = card.platform === "wecom";
  return `<div class="card card-${card.platform}" data-card-id="${escapeHtml(card.id)}"` +
    ` data-version="${card.version}">` +
    (wecom && card.source ? `<div class="card-source">${escapeHtml(card.source)}</div>` : "") +
    `<div class="card-head"><span class="card-title">${escapeHtml(card.title)}</span>` +
    (card.status && !wecom ? `<span class="card-status">${escapeHtml(card.status)}</span>` : "") +
    `</div>` +
    (wecom && card.footer ? `<div class="card-desc">${escapeHtml(card.footer)}</div>` : "") +
    (fields ? `<div class="card-fields">${fields}</div>` : "") +
    (card.body ? `<div class="card-body">${markdown(card.body)}</div>` : "") +
    (!wecom && card.footer ? `<div class="card-footer">${escapeHtml(card.footer)}</div>` : "") +
    (buttons ? `<div class="card-buttons">${buttons}</div>` : "") + `</div>`;
}

function renderMessage(m, viewer = state.person) {
  const mine = m.sender.id === viewer;
  let content;
  if (m.card) content = renderCard(m.card);
  else if (m.media && m.kind === "image") {
    content = `<div class="bubble image"><img src="${escapeHtml(m.media.url)}" alt="图片"` +
      ` loading="lazy"></div>`;
  } else if (m.media) {
    content = `<div class="bubble file">📎 <a href="${escapeHtml(m.media.url)}" download>` +
      `${escapeHtml(m.media.filename || m.text || "文件")}</a></div>`;
  } else if (m.kind === "markdown") {
    const title = m.title ? `<div class="md-title">${escapeHtml(m.title)}</div>` : "";
    content = `<div class="bubble">${title}${markdown(m.text)}</div>`;
  } else content = `<div class="bubble">${escapeHtml(m.text).replace(/\n/g, "<br>")}</div>`;
  const who = m.from_bot ? boot.botName : m.sender.name;
  return `<li class="msg ${mine ? "mine" : "theirs"}${m.from_bot ? " bot" : ""}"` +
    ` data-seq="${m.seq}">` +
    `<div class="avatar">${escapeHtml(who.slice(0, 1))}</div><div class="msg-main">` +
    `<div class="meta">${escapeHtml(who)} · ${formatTime(m.time)}</div>${content}</div></li>`;
}

function renderInbox(data) {
  const list = $("messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const messages = data.messages.filter((m) => m.conversation === state.conversation);
  list.innerHTML = messages.length ? messages.map((m) => renderMessage(m)).join("") : emptyChat();
  // Flash what is new or changed since the last drawing, and bring it into view.
  const fresh = [];
  for (const m of messages) {
    const node = list.querySelector(`[data-seq="${m.seq}"]`);
    const changed = m.card && state.cards.has(m.card.id) && state.cards.get(m.card.id) !== m.card.version;
    if (state.lastSeq !== null && (m.seq > state.lastSeq || changed)) fresh.push(node);
    if (m.card) state.cards.set(m.card.id, m.card.version);
  }
  const newest = messages.length ? messages[messages.length - 1].seq : 0;
  state.lastSeq = Math.max(state.lastSeq ?? 0, newest);
  fresh.forEach((node) => node.classList.add("flash"));
  if (fresh.length) fresh[fresh.length - 1].scrollIntoView({ block: "nearest", behavior: "smooth" });
  else if (atBottom) list.scrollTop = list.scrollHeight;
  $("tasks-panel").hidden = state.platform !== "wecom";
  $("tasks").innerHTML = data.tasks.map((t) =>
    `<li class="task"><div>${escapeHtml(t.text)}</div>` +
    `<div class="hint">发给：${escapeHtml(t.candidate_names.join("、") || "（无有效客户）")}</div>` +
    (t.status === "pending"
      ? `<button type="button" data-confirm="${escapeHtml(t.msgid)}">确认发送</button>`
      : `<span class="done">已发送 ${formatTime(t.send_time)}</span>`) + `</li>`).join("")
    || `<li class="hint">暂无群发任务</li>`;
  $("todos-panel").hidden = state.platform !== "dingtalk";
  $("todos").innerHTML = data.todos.map((t) =>
    `<li class="todo${t.done ? " done" : ""}">${escapeHtml(t.subject)}` +
    (t.dueTime ? `<span class="hint"> 截止 ${formatTime(t.dueTime)}</span>` : "") + `</li>`).join("")
    || `<li class="hint">暂无待办</li>`;
}

function renderConversations(items) {
  if (!items.some((c) => c.id === state.conversation)) state.conversation = "dm";
  $("conversations").innerHTML = items.map((c) =>
    `<li class="${c.id === state.conversation ? "active" : ""}" data-conversation="${escapeHtml(c.id)}">` +
    `<div class="conv-title">${c.kind === "group" ? "👥 " : "🤖 "}${escapeHtml(c.title)}` +
    (c.kind === "group" ? `<span class="hint">（${c.members}人）</span>` : "") + `</div>` +
    `<div class="conv-last">${escapeHtml(c.last || "")}</div></li>`).join("");
  const current = items.find((c) => c.id === state.conversation);
  $("chat-title").textContent = current ? current.title : boot.botName;
}

async function refresh(force = false) {
  if (state.busy) return;
  state.busy = true;
  try {
    const since = force || state.revision === null ? {} : { since: state.revision };
    const [inbox, clock, status, counts] = await Promise.all([
      call("GET", `inbox?${query(since)}`), call("GET", "clock"), call("GET", "status"),
      call("GET", "counts")]);
    renderCounts(counts.counts);
    renderClock(clock);
    if (inbox.changed) {
      state.revision = inbox.revision;
      renderInbox(inbox);
      renderConversations((await call("GET", `conversations?${query()}`)).conversations);
      renderCandidates((await call("GET", "candidates")).candidates);
    }
    if (state.second) await refreshSecond(force);
    // The bot's schedule changes with what people do and with the clock, not by itself.
    if (boot.schedule && (inbox.changed || clock.offset_seconds !== state.offset)) {
      state.offset = clock.offset_seconds;
      renderUpcoming((await call("GET", "upcoming")).items);
    }
    const up = state.platform === "dingtalk" ? status.dingtalk.connected : status.wecom.configured;
    $("bot-status").textContent = `${PLATFORM_NAMES[state.platform]}机器人：${up ? "已连接" : "未连接"}`;
    $("bot-status").className = `status ${up ? "up" : "down"}`;
  } catch (err) {
    toast(err.message);
  } finally {
    state.busy = false;
  }
}

function renderCandidates(items) {
  $("candidates").innerHTML = items.map((c) =>
    `<li class="candidate"><div class="conv-title">${escapeHtml(c.name)}` +
    `<span class="hint"> ${escapeHtml(c.external_userid)}</span></div>` +
    (c.messages.map((m) => `<div class="recall"><div class="meta">${escapeHtml(m.from_name)}` +
      ` · ${formatTime(m.time)}</div>${escapeHtml(m.text).replace(/\n/g, "<br>")}</div>`).join("")
      || `<div class="hint">尚未收到消息</div>`) + `</li>`).join("")
    || `<li class="hint">暂无候选人</li>`;
}

function choose(person, platform) {
  state.person = person;
  state.platform = platform;
  state.conversation = "dm";
  state.revision = null;
  state.lastSeq = null;
  state.cards.clear();
  state.secondRevision = null;
  localStorage.setItem("sandbox.person", person);
  localStorage.setItem("sandbox.platform", platform);
  history.replaceState(null, "", `?${query()}`);
  document.body.className = `platform-${platform}`;
  document.querySelectorAll(".switch button").forEach((b) =>
    b.classList.toggle("active", b.dataset.platform === platform));
  $("person-picker").value = person;
  refresh(true);
}

async function act(action, done) {
  try {
    const result = await action();
    if (done) toast(done(result), "info");
  } catch (err) {
    toast(err.message);
  }
  refresh(true);
}

$("person-picker").addEventListener("change", (e) => choose(e.target.value, state.platform));
document.querySelectorAll(".switch button").forEach((b) =>
  b.addEventListener("click", () => choose(state.person, b.dataset.platform)));
$("conversations").addEventListener("click", (e) => {
  const item = e.target.closest("[data-conversation]");
  if (item) { state.conversation = item.dataset.conversation; refresh(true); }
});
$("messages").addEventListener("click", (e) => {
  const go = e.target.closest("button[data-go-platform]");
  if (go) { choose(state.person, go.dataset.goPlatform); return; }
  const button = e.target.closest("button[data-action]");
  if (!button || button.disabled) return;
  button.disabled = true;
  act(() => call("POST", "tap", {
    person: state.person, platform: state.platform, card_id: button.dataset.card,
    action: button.dataset.action, conversation: state.conversation,
  }));
});
$("split-toggle").addEventListener("click", () => {
  if (state.second) { openSecond(null); return; }
  // The HR closest in the org to whoever is shown (the one who reviews their referrals);
  // next to an HR, the first referrer.
  const me = boot.people.find((p) => p.id === state.person);
  const mine = me.org_path.split("/");
  const shared = (p) => {
    const theirs = p.org_path.split("/");
    let n = 0;
    while (n < Math.min(mine.length, theirs.length) && mine[n] === theirs[n]) n += 1;
    return n;
  };
  const hrs = boot.people.filter((p) => p.roles.includes("hr") && p.id !== state.person)
    .map((p) => [shared(p), p]).sort((a, b) => b[0] - a[0]);
  const isHr = me.roles.includes("hr");
  openSecond(isHr || !hrs.length ? (state.person === boot.startPerson
    ? boot.people.find((p) => p.id !== me.id).id : boot.startPerson) : hrs[0][1].id);
});
$("second-picker").addEventListener("change", (e) => openSecond(e.target.value));
$("messages-2").addEventListener("click", (e) => {
  const button = e.target.closest("button[data-action]");
  if (!button || button.disabled) return;
  button.disabled = true;
  act(() => call("POST", "tap", {
    person: state.second, platform: state.platform, card_id: button.dataset.card,
    action: button.dataset.action, conversation: "dm",
  }));
});
$("tasks").addEventListener("click", (e) => {
  const button = e.target.closest("button[data-confirm]");
  if (button) act(() => call("POST", "confirm", { person: state.person, msgid: button.dataset.confirm }),
    () => "已确认发送");
});
$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("input").value;
  if (!text.trim()) return;
  act(async () => {
    await call("POST", "say", { person: state.person, platform: state.platform,
      conversation: state.conversation, text });
    $("input").value = "";
  });
});
$("input").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $("composer").requestSubmit();
  }
});
document.querySelectorAll("button[data-advance]").forEach((b) => b.addEventListener("click", () =>
  act(() => call("POST", "clock/advance", JSON.parse(b.dataset.advance)), (clock) =>
    `时钟已到 ${shortTime(clock.now)}` + (clock.held_until
      ? `：免打扰中，消息 ${shortTime(clock.held_until)} 送达` : ""))));
$("reset").addEventListener("click", () => {
  if (confirm("清空所有会话、卡片和调用记录？")) act(() => call("POST", "reset"), () => "已重置");
});
$("contact-form").addEventListener("submit", (e) => {
  e.preventDefault();
  act(() => call("POST", "contact_added", {
    employee: state.person, name: $("contact-name").value,
    mobile: $("contact-mobile").value, state: $("contact-state").value,
  }), () => "候选人已添加");
});

if (boot.quietRule) {
  $("quiet-rule").hidden = false;
  $("quiet-rule").textContent = `免打扰 ${boot.quietRule}：期间的消息顺延送达`;
}
$("upcoming-panel").hidden = !boot.schedule;
checkFonts();
choose(boot.people.some((p) => p.id === state.person) ? state.person : boot.startPerson,
  PLATFORM_NAMES[state.platform] ? state.platform : "dingtalk");
setInterval(refresh, 1000);
