// Modals (INTERACTION_MODAL_CREATE) as native <dialog>s named by their title, with labelled inputs (short and
// paragraph, required, min/max length, placeholder, pre-filled value), Submit and Cancel.
import { h, uid } from "./dom.js";

/** Text inputs of a modal, from action rows (type 1) or labels (type 18, Discord's newer layout). */
function textInputs(components) {
  const out = [];
  for (const row of components || []) {
    if (row.type === 1) {
      for (const c of row.components || []) if (c.type === 4) out.push({ input: c, label: c.label, description: null });
    } else if (row.type === 18 && row.component?.type === 4) {
      out.push({ input: row.component, label: row.label, description: row.description });
    } else if (row.type === 4) out.push({ input: row, label: row.label, description: null });
  }
  return out;
}

function field({ input, label, description }) {
  const id = uid("modal-input");
  const attrs = {
    id,
    class: "text-input",
    name: input.custom_id,
    required: input.required !== false,
    minlength: input.min_length ?? null,
    maxlength: input.max_length ?? null,
    placeholder: input.placeholder || null,
  };
  const control = input.style === 2 ? h("textarea", { ...attrs, rows: 4 }) : h("input", { ...attrs, type: "text" });
  control.value = input.value ?? "";
  const counter = input.max_length ? h("div", { class: "counter", "aria-hidden": "true" }) : null;
  const count = () => {
    if (counter) counter.textContent = `${control.value.length}/${input.max_length}`;
  };
  control.addEventListener("input", count);
  count();
  return h(
    "div",
    { class: "modal-field" },
    h("label", { for: id }, label || input.custom_id, input.required !== false ? h("span", { class: "required", "aria-hidden": "true" }, "*") : null),
    description ? h("div", { class: "description" }, description) : null,
    control,
    counter,
  );
}

/**
 * Show a modal. `submit(components)` sends it and resolves true (close) or an error string (stay open).
 * `app` gives the application's name and avatar for the header.
 */
export function showModal(modal, { appName, appAvatar, submit }) {
  const titleId = uid("modal-title");
  const inputs = textInputs(modal.components);
  const error = h("div", { class: "modal-error", role: "alert" });
  const submitButton = h("button", { type: "submit", class: "button button-primary" }, "Submit");
  const form = h(
    "form",
    { method: "dialog" },
    h("div", { class: "modal-head" },
      h("div", { class: "avatar", style: { backgroundColor: appAvatar || "#5865f2" }, "aria-hidden": "true" }, (appName || "A")[0]),
      h("h2", { id: titleId }, modal.title || "Form")),
    h("div", { class: "modal-body" }, inputs.map(field)),
    error,
    h("div", { class: "modal-foot" },
      h("button", { type: "button", class: "plain-button", value: "cancel", "data-cancel": "1" }, "Cancel"),
      submitButton),
  );
  const dialog = h("dialog", { class: "modal", "aria-labelledby": titleId }, form);
  document.body.appendChild(dialog);
  const close = () => {
    dialog.close();
    dialog.remove();
  };
  form.querySelector("[data-cancel]").addEventListener("click", close);
  dialog.addEventListener("cancel", (event) => {
    event.preventDefault();
    close();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (submitButton.classList.contains("loading")) return;
    const components = inputs.map(({ input }) => ({
      type: 1,
      components: [{ type: 4, custom_id: input.custom_id, value: form.elements.namedItem(input.custom_id).value }],
    }));
    error.textContent = "";
    submitButton.classList.add("loading");
    submitButton.disabled = true;
    const result = await submit(components);
    submitButton.classList.remove("loading");
    submitButton.disabled = false;
    if (result === true) close();
    else error.textContent = `Something went wrong: ${result}`;
  });
  dialog.showModal();
  return dialog;
}

/** A yes/no confirmation in the same style (used by "Reset playground"). Resolves true when confirmed. */
export function confirmDialog({ title, text, confirmLabel }) {
  return new Promise((resolve) => {
    const titleId = uid("confirm-title");
    const dialog = h(
      "dialog",
      { class: "modal", "aria-labelledby": titleId },
      h("form", { method: "dialog" },
        h("div", { class: "modal-head" }, h("h2", { id: titleId }, title)),
        h("div", { class: "modal-body" }, h("p", null, text)),
        h("div", { class: "modal-foot" },
          h("button", { type: "submit", class: "plain-button", value: "cancel" }, "Cancel"),
          h("button", { type: "submit", class: "button button-danger", value: "confirm" }, confirmLabel))),
    );
    document.body.appendChild(dialog);
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "confirm");
      dialog.remove();
    });
    dialog.showModal();
  });
}
