// Test-only: render fixture Discord objects with the page's real modules, and expose the modules to the tests.
import { renderMessageItem } from "/static/js/render/message.js";
import { revealSpoiler } from "/static/js/markdown.js";
import { intColour } from "/static/js/format.js";

/** A render context built from a fixture: {users, members, roles, channels, application, me}. */
export function contextFrom(fx) {
  const users = new Map(fx.users.map((u) => [u.id, u]));
  const roles = new Map(fx.roles.map((r) => [r.id, r]));
  const channels = new Map(fx.channels.map((c) => [c.id, c]));
  const memberRoles = fx.member_roles || {};
  const colour = (userId) => {
    const own = (memberRoles[userId] || []).map((id) => roles.get(id)).filter((r) => r && r.color);
    own.sort((a, b) => b.position - a.position);
    return own.length ? intColour(own[0].color) : null;
  };
  return {
    user: (id) => (users.has(id) ? { name: users.get(id).global_name || users.get(id).username } : null),
    role: (id) => (roles.has(id) ? { name: roles.get(id).name, color: intColour(roles.get(id).color) } : null),
    channel: (id) => channels.get(id) || null,
    thread: (id) => channels.get(id) || null,
    authorOf: (message) => {
      const u = users.get(message.author.id) || message.author;
      const name = u.global_name || u.username;
      return { name, initial: name[0].toUpperCase(), color: colour(u.id), avatarColor: "#5865f2", bot: Boolean(u.bot) };
    },
    mentionsMe: (m) => (m.mentions || []).some((u) => u.id === fx.me),
    selectOptions: () => [],
    appName: fx.application?.name || "Tunesmith",
  };
}

export function renderMessages(fx, messages) {
  const ctx = contextFrom(fx);
  const list = document.createElement("ol");
  list.className = "message-list";
  let prev = null;
  for (const message of messages) {
    list.appendChild(renderMessageItem(message, ctx, prev));
    prev = message;
  }
  document.getElementById("root").replaceChildren(list);
  return list.children.length;
}

document.addEventListener("click", (event) => {
  const spoiler = event.target.closest(".spoiler:not(.revealed)");
  if (spoiler) revealSpoiler(spoiler);
});

window.harness = { renderMessages, contextFrom };
window.harnessReady = true;
