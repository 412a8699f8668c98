// Starts Swagger UI on the API documentation page (tenderhall/web/apidocs.py); a file of its own
// because the platform's CSP allows no inline script.
window.addEventListener("DOMContentLoaded", function () {
  var box = document.getElementById("swagger-container");
  if (!box || typeof SwaggerUIBundle === "undefined") return;
  SwaggerUIBundle({
    url: box.dataset.specUrl,
    dom_id: "#swagger-container",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
