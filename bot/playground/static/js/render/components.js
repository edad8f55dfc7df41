// Message components: action rows of buttons (all styles, disabled, emoji) and select menus. Clicks are handled
// by one delegated listener in the chat view (data-custom-id on each control), not per element.
import { h, safeUrl } from "../dom.js";

const BUTTON_STYLE = { 1: "primary", 2: "secondary", 3: "success", 4: "danger", 5: "link", 6: "premium" };

function emojiNode(emoji) {
  if (!emoji) return null;
  if (emoji.id) return h("span", { class: "button-emoji custom-emoji", "aria-hidden": "true" }, `:${emoji.name ?? "emoji"}:`);
  return emoji.name ? h("span", { class: "button-emoji", "aria-hidden": "true" }, emoji.name) : null;
}

function renderButton(component) {
  const style = BUTTON_STYLE[component.style] || "secondary";
  const label = component.label || "";
  const emoji = emojiNode(component.emoji);
  // A button with only an emoji is named by the emoji, as a screen reader would read it.
  const name = label || component.emoji?.name || "button";
  if (style === "link") {
    const url = safeUrl(component.url);
    return h(
      "button",
      { type: "button", class: "button button-link", disabled: component.disabled || !url, "data-url": url,
        "aria-label": label ? null : name, title: url },
      emoji, label && h("span", { class: "button-label" }, label),
      h("span", { class: "link-icon", "aria-hidden": "true" }, "↗"),
    );
  }
  return h(
    "button",
    { type: "button", class: `button button-${style}`, disabled: Boolean(component.disabled),
      "data-custom-id": component.custom_id, "data-component-type": "2", "aria-label": label ? null : name },
    emoji, label && h("span", { class: "button-label" }, label),
    h("span", { class: "button-spinner", "aria-hidden": "true" }, h("span"), h("span"), h("span")),
  );
}

/** Options for user/role/channel selects come from the guild (ctx.selectOptions(type)). */
function selectOptions(component, ctx) {
  if (component.type === 3) return component.options || [];
  return ctx.selectOptions?.(component.type, component) || [];
}

function renderSelect(component, ctx) {
  const options = selectOptions(component, ctx);
  const placeholder = component.placeholder || "Make a selection";
  const multiple = (component.max_values ?? 1) > 1;
  const select = h(
    "select",
    {
      class: "select-menu",
      "aria-label": placeholder,
      disabled: Boolean(component.disabled),
      multiple,
      size: multiple ? Math.min(options.length, 5) : null,
      "data-custom-id": component.custom_id,
      "data-component-type": String(component.type),
      "data-min": component.min_values ?? 1,
      "data-max": component.max_values ?? 1,
    },
    multiple ? null : h("option", { value: "", disabled: true, selected: !options.some((o) => o.default) }, placeholder),
    options.map((o) =>
      h("option", { value: o.value, selected: Boolean(o.default), title: o.description || null },
        o.emoji?.name && !o.emoji.id ? `${o.emoji.name} ` : "", o.label),
    ),
  );
  if (!multiple) return h("div", { class: "select-wrap" }, select);
  return h(
    "div",
    { class: "select-wrap select-multiple" },
    select,
    h("button", { type: "button", class: "button button-secondary select-apply", "data-apply-select": component.custom_id,
      disabled: Boolean(component.disabled) }, "Apply"),
  );
}

export function renderComponents(rows, ctx = {}) {
  if (!Array.isArray(rows) || !rows.length) return null;
  return h(
    "div",
    { class: "components" },
    rows.map((row) => {
      const items = row.type === 1 ? row.components || [] : [row];
      return h(
        "div",
        { class: "action-row" },
        items.map((c) => {
          if (c.type === 2) return renderButton(c);
          if ([3, 5, 6, 7, 8].includes(c.type)) return renderSelect(c, ctx);
          return null;
        }),
      );
    }),
  );
}
