/* global window, SwaggerUIBundle */
// Swagger UI over the gateway's own /openapi.json, served from node_modules (no CDN, no validator call).
"use strict";
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  tryItOutEnabled: false,
});
