// REST client for the playground's Discord API, as the signed-in member (user token in Authorization).

/** The first detailed reason in Discord's nested form errors ({errors: {data: {options: {_errors: [...]}}}}). */
function firstFormError(errors, path = []) {
  if (!errors || typeof errors !== "object") return null;
  if (Array.isArray(errors._errors) && errors._errors.length) {
    const where = path.filter((p) => !/^\d+$/.test(p)).join(".");
    return `${errors._errors[0].message}${where ? ` (${where})` : ""}`;
  }
  for (const [key, value] of Object.entries(errors)) {
    const found = firstFormError(value, [...path, key]);
    if (found) return found;
  }
  return null;
}

export class ApiError extends Error {
  constructor(status, body) {
    const detail = firstFormError(body?.errors);
    const message = `${body?.message || `HTTP ${status}`}${detail ? `: ${detail}` : ""}`;
    super(message);
    this.status = status;
    this.code = body?.code;
    this.body = body;
  }
}

export class Api {
  constructor(token, base = "/api/v10") {
    this.token = token;
    this.base = base;
  }

  /** request("GET", "/users/@me"); {json} sends JSON, {form} sends multipart. Returns parsed JSON or null. */
  async request(method, path, { json, form, retries = 2 } = {}) {
    const headers = { Authorization: this.token };
    let body;
    if (form) body = form;
    else if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    }
    const response = await fetch(this.base + path, { method, headers, body });
    if (response.status === 429 && method === "GET" && retries > 0) {
      // Reads wait out the rate limit; writes report it (Discord's client tells the member to slow down).
      const data = await response.json().catch(() => ({}));
      const wait = Math.min(Number(data.retry_after) || 1, 5);
      await new Promise((r) => setTimeout(r, wait * 1000));
      return this.request(method, path, { json, form, retries: retries - 1 });
    }
    if (response.status === 204) return null;
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = { message: text };
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  get(path) {
    return this.request("GET", path);
  }
}

/** The playground's own (non-Discord) endpoints: the members you may act as, and reset. */
export async function fetchMembers() {
  const response = await fetch("/app/members");
  if (!response.ok) throw new Error(`Could not load the playground's members (HTTP ${response.status})`);
  return response.json();
}

export async function resetPlayground(token) {
  // The member's token goes with it: no other web page can send that header here, so none can wipe the playground.
  const response = await fetch("/app/reset", { method: "POST", headers: { Authorization: token } });
  if (!response.ok) throw new Error(`Reset failed (HTTP ${response.status})`);
}
