// The Run dialog: the input starts from the flow's saved input
// (STEM.input.json beside it, as `wfdsl run --input @FILE` reads it) or,
// without one, from a skeleton of the workflow's `input` schema. A schema
// of plain fields gets a form; the JSON text is always there, and is what
// is sent. "Save as ..." writes the input back beside the flow.
import { el, parseValue } from "./forms.js";

// A value that fits `schema`: its default or first example, else an empty
// value of its type (an object's required and listed properties filled in).
export function skeleton(schema, depth = 0) {
  if (!schema || typeof schema !== "object" || depth > 6) return null;
  if ("default" in schema) return schema.default;
  if ("const" in schema) return schema.const;
  if (Array.isArray(schema.examples) && schema.examples.length) return schema.examples[0];
  if (Array.isArray(schema.enum) && schema.enum.length) return schema.enum[0];
  const type = [].concat(schema.type || (schema.properties ? "object" : []))[0];
  if (type === "object") {
    const out = {};
    for (const [key, sub] of Object.entries(schema.properties || {})) out[key] = skeleton(sub, depth + 1);
    return out;
  }
  return { string: "", integer: 0, number: 0, boolean: false, array: [], null: null }[type] ?? null;
}

// The fields of a schema a form can show: an object of plain properties.
function formFields(schema) {
  if (!schema || typeof schema !== "object" || !schema.properties) return null;
  const fields = Object.entries(schema.properties).map(([key, sub]) => ({
    key,
    schema: sub || {},
    type: [].concat(sub?.type || (sub?.enum ? "enum" : "json"))[0],
    required: (schema.required || []).includes(key),
  }));
  return fields.length ? fields : null;
}

export class RunDialog {
  constructor({ dialog, inputUrl, documentData, onStart }) {
    this.dialog = dialog;
    this.inputUrl = inputUrl;
    this.documentData = documentData;
    this.onStart = onStart;
    this.json = dialog.querySelector("#run-input");
    this.formBox = dialog.querySelector("#run-form-fields");
    this.source = dialog.querySelector("#run-input-source");
    this.save = dialog.querySelector("#run-save-input");
    this.saveLabel = dialog.querySelector("#run-save-input-label");
    this.json.addEventListener("input", () => this.fillForm());
  }

  async open(text) {
    this.dialog.querySelector("#run-error").hidden = true;
    this.formBox.replaceChildren();
    this.source.textContent = "";
    this.dialog.showModal();
    const [saved, doc] = await Promise.all([
      this.inputUrl().catch(() => null),
      this.documentData(text).catch(() => null),
    ]);
    this.file = saved?.file || "the input file";
    this.saveLabel.textContent = `Save as ${this.file}, beside the flow, for the next run`;
    this.schema = doc?.data?.input || null;
    this.fields = formFields(this.schema);
    let value;
    if (saved?.input !== null && saved?.input !== undefined) {
      value = saved.input;
      this.source.textContent = `From ${saved.file}, the input saved beside the flow.`;
      this.save.checked = false;
    } else if (saved?.error) {
      this.json.value = saved.text || "";
      this.source.textContent = saved.error;
      this.source.classList.add("form-error");
    } else if (this.schema) {
      value = skeleton(this.schema);
      this.source.textContent = `A skeleton of the workflow's input schema; no ${this.file} yet.`;
      this.save.checked = true;
    } else {
      value = {};
      this.source.textContent = "The workflow declares no input schema.";
      this.save.checked = false;
    }
    if (value !== undefined) this.json.value = JSON.stringify(value, null, 2);
    this.buildForm();
    (this.formBox.querySelector("input, select, textarea") || this.json).focus();
  }

  // One field per property; each edit rewrites that key in the JSON text.
  buildForm() {
    this.formBox.replaceChildren();
    if (!this.fields) return;
    this.formBox.append(el("p", { class: "muted", text: "From the workflow's input schema:" }));
    for (const field of this.fields) {
      const id = `run-field-${field.key}`;
      const label = el("label", { for: id, class: "prop-label", text: field.key + (field.required ? " *" : "") });
      let input;
      if (field.schema.enum) {
        input = el("select", { id });
        for (const v of field.schema.enum) input.append(el("option", { value: JSON.stringify(v), text: String(v) }));
      } else if (field.type === "boolean") {
        input = el("input", { id, type: "checkbox" });
      } else if (field.type === "integer" || field.type === "number") {
        input = el("input", { id, type: "number", step: field.type === "integer" ? "1" : "any" });
      } else if (field.type === "string") {
        input = el("input", { id, type: "text", spellcheck: "false" });
      } else {
        input = el("textarea", { id, rows: "2", class: "code", spellcheck: "false" });
      }
      input.dataset.key = field.key;
      input.addEventListener(input.type === "checkbox" || input.tagName === "SELECT" ? "change" : "input", () => this.fromForm(field, input));
      const row = el("div", { class: "prop-field run-field" }, label, input);
      if (field.schema.description) row.append(el("p", { class: "prop-help", text: field.schema.description }));
      this.formBox.append(row);
    }
    this.fillForm();
  }

  current() {
    try {
      const value = JSON.parse(this.json.value || "{}");
      return value && typeof value === "object" && !Array.isArray(value) ? value : null;
    } catch {
      return null;
    }
  }

  fillForm() {
    const value = this.current();
    for (const input of this.formBox.querySelectorAll("[data-key]")) {
      if (document.activeElement === input) continue;
      const v = value ? value[input.dataset.key] : undefined;
      if (input.type === "checkbox") input.checked = v === true;
      else if (input.tagName === "SELECT") input.value = JSON.stringify(v);
      else if (input.tagName === "TEXTAREA") input.value = v === undefined ? "" : JSON.stringify(v);
      else input.value = v === undefined || v === null ? "" : String(v);
    }
  }

  fromForm(field, input) {
    const value = this.current() || {};
    if (input.type === "checkbox") value[field.key] = input.checked;
    else if (input.tagName === "SELECT") value[field.key] = JSON.parse(input.value);
    else if (input.type === "number") value[field.key] = input.value === "" ? null : Number(input.value);
    else if (input.tagName === "TEXTAREA") value[field.key] = parseValue(input.value);
    else value[field.key] = input.value;
    this.json.value = JSON.stringify(value, null, 2);
  }
}
