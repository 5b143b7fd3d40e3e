// The fake org on both platforms' contacts: hire, move and remove people. The bot sees the
// change at its nightly directory sync (02:30; "+1 天" gets there).
"use strict";

(() => {
  const byId = (id) => document.getElementById(id);
  const picker = byId("person-picker");

  async function post(path, body) {
    const response = await fetch(`/sandbox/api/contacts/${path}`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
    return data;
  }

  function say(text, kind = "info") {
    const box = byId("toast");
    box.textContent = text;
    box.className = `toast ${kind}`;
    box.hidden = false;
    setTimeout(() => { box.hidden = true; }, 4000);
  }

  function label(person) {
    return `${person.name}（${person.org_path || "未分组"}）`;
  }

  async function run(action) {
    try { say(await action()); } catch (err) { say(err.message, "error"); }
  }

  byId("hire-form").addEventListener("submit", (e) => {
    e.preventDefault();
    run(async () => {
      const { hired } = await post("hire", {
        name: byId("hire-name").value, org_path: byId("hire-org").value,
        lead: byId("hire-lead").value,
      });
      picker.add(new Option(label(hired), hired.id));
      byId("hire-form").reset();
      return `${hired.name} 已入职（${hired.id}），夜间同步后可使用机器人`;
    });
  });
  byId("move-form").addEventListener("submit", (e) => {
    e.preventDefault();
    run(async () => {
      const { moved } = await post("move", { person: picker.value, org_path: byId("move-org").value });
      picker.selectedOptions[0].textContent = label(moved);
      return `${moved.name} 已调到 ${moved.org_path}，夜间同步后生效`;
    });
  });
  byId("leave-button").addEventListener("click", () => run(async () => {
    const { left } = await post("leave", { person: picker.value });
    return `${left.name} 已离职，夜间同步后停用，待办交给其上级`;
  }));
})();
