// The workspace page: readable times and "create a workflow from a starter".
import { api, filePath, formatEpochs, showError } from "./api.js";

formatEpochs();

const form = document.getElementById("new-workflow");
if (form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let path = form.elements.path.value.trim();
    if (!/\.ya?ml$/.test(path)) path += ".yaml";
    try {
      const created = await api("POST", "/api/files", { path, template: form.elements.template.value });
      window.location.assign("/edit/" + filePath(created.path));
    } catch (err) {
      showError(err);
    }
  });
}
