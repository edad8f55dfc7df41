// The member list (grouped like Discord's: hoisted roles, then everyone else) and a member's profile popout,
// where an admin gives or takes a role (PUT/DELETE /guilds/{id}/members/{user}/roles/{role}).
import { h, uid } from "./dom.js";

export class MemberList {
  constructor(app, root) {
    this.app = app;
    this.root = root;
    this.popout = null;
    root.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-member-id]");
      if (button) this.open(button.dataset.memberId, button);
    });
    document.addEventListener("mousedown", (event) => {
      if (this.popout && !this.popout.el.contains(event.target) && !event.target.closest("button[data-member-id]")) this.close();
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.popout) this.close();
    });
  }

  render() {
    const app = this.app;
    const members = [...app.guild.members.values()];
    const roles = [...app.guild.roles.values()].filter((r) => r.hoist).sort((a, b) => b.position - a.position);
    const placed = new Set();
    const groups = [];
    for (const role of roles) {
      const inRole = members.filter((m) => !placed.has(m.user.id) && (m.roles || []).includes(role.id));
      inRole.forEach((m) => placed.add(m.user.id));
      if (inRole.length) groups.push([role.name, inRole]);
    }
    const rest = members.filter((m) => !placed.has(m.user.id));
    if (rest.length) groups.push(["Online", rest]);
    this.root.replaceChildren(
      ...groups.map(([title, list]) => {
        const id = uid("members-group");
        list.sort((a, b) => app.displayName(a.user.id).localeCompare(app.displayName(b.user.id)));
        return h("section", { "aria-labelledby": id },
          h("h2", { id }, `${title} — ${list.length}`),
          h("ul", null, list.map((m) => {
            const author = app.authorOf({ author: m.user });
            return h("li", null,
              h("button", { type: "button", class: `member${m.user.id === app.me?.id ? " acting" : ""}`, "data-member-id": m.user.id },
                h("div", { class: "avatar", style: { backgroundColor: author.avatarColor }, "aria-hidden": "true" }, author.initial),
                h("span", { class: "member-name", style: author.color ? { color: author.color } : null }, author.name),
                author.bot ? h("span", { class: "bot-tag" }, "APP") : null));
          })));
      }),
    );
    if (this.popout) this.open(this.popout.userId, null);
  }

  close() {
    this.popout?.el.remove();
    this.popout = null;
  }

  open(userId, anchor) {
    const app = this.app;
    const member = app.guild.members.get(userId);
    if (!member) return;
    const keepPosition = this.popout?.userId === userId ? this.popout.el.style.top : null;
    this.close();
    const author = app.authorOf({ author: member.user });
    const titleId = uid("popout-name");
    const error = h("div", { class: "popout-error", role: "alert" });
    const assignable = [...app.guild.roles.values()]
      .filter((r) => r.id !== app.guild.id && !r.managed && !(member.roles || []).includes(r.id))
      .sort((a, b) => b.position - a.position);
    const select = h("select", { "aria-label": "Role to add" }, assignable.map((r) => h("option", { value: r.id }, r.name)));
    const change = async (method, roleId) => {
      error.textContent = "";
      try {
        await app.api.request(method, `/guilds/${app.guild.id}/members/${userId}/roles/${roleId}`);
      } catch (err) {
        error.textContent = err.status === 403 ? "You need the Manage Roles permission to do that." : err.message;
      }
    };
    const roles = (member.roles || []).map((id) => app.guild.roles.get(id)).filter(Boolean).sort((a, b) => b.position - a.position);
    const el = h(
      "div",
      { class: "popout", role: "dialog", "aria-labelledby": titleId },
      h("div", { class: "avatar", style: { backgroundColor: author.avatarColor, width: "80px", height: "80px", fontSize: "32px" }, "aria-hidden": "true" }, author.initial),
      h("h2", { id: titleId }, author.name),
      h("div", { class: "tag" }, member.user.username, author.bot ? " · APP" : "", app.guild.ownerId === userId ? " · server owner" : ""),
      h("h3", null, roles.length ? "Roles" : "No roles"),
      h("ul", { class: "role-chips" }, roles.map((role) =>
        h("li", { class: "role-chip" },
          h("span", { class: "role-dot", style: role.color ? { backgroundColor: app.roleColour(role) } : null, "aria-hidden": "true" }),
          role.name,
          h("button", { type: "button", "aria-label": `Remove role ${role.name}`, "data-remove-role": role.id }, "✕")))),
      assignable.length
        ? h("div", { class: "add-role" }, select, h("button", { type: "button", class: "button button-primary", "data-add-role": "1" }, "Add role"))
        : null,
      error,
    );
    el.addEventListener("click", (event) => {
      const remove = event.target.closest("[data-remove-role]");
      if (remove) change("DELETE", remove.dataset.removeRole);
      if (event.target.closest("[data-add-role]")) change("PUT", select.value);
    });
    document.body.appendChild(el);
    const rect = anchor?.getBoundingClientRect();
    el.style.left = `${Math.max(8, (rect ? rect.left : window.innerWidth - 240) - 310)}px`;
    el.style.top = keepPosition || `${Math.min(rect ? rect.top : 80, window.innerHeight - el.offsetHeight - 8)}px`;
    this.popout = { el, userId };
  }
}
