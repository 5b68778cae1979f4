import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** One file the gateway serves, read once at start. */
export interface StaticAsset {
  readonly body: Buffer;
  readonly contentType: string;
  readonly cacheControl: string;
}

const require = createRequire(import.meta.url);
const PUBLIC_DIR = fileURLToPath(new URL("../../public/", import.meta.url));

function packageDir(name: string): string {
  return dirname(require.resolve(`${name}/package.json`));
}

const HTML = "text/html; charset=utf-8";
const JS = "text/javascript; charset=utf-8";
const CSS = "text/css; charset=utf-8";
const NO_CACHE = "no-cache";
const VENDOR_CACHE = "public, max-age=3600";

/**
 * The live page, the API docs and the browser libraries they use, all from this package and its
 * node_modules (no CDN: the page works without internet access). URL path → file.
 */
function assetFiles(): Record<string, { file: string; contentType: string; cacheControl: string }> {
  const charts = packageDir("lightweight-charts");
  const swagger = packageDir("swagger-ui-dist");
  return {
    "/": { file: join(PUBLIC_DIR, "index.html"), contentType: HTML, cacheControl: NO_CACHE },
    "/app.js": { file: join(PUBLIC_DIR, "app.js"), contentType: JS, cacheControl: NO_CACHE },
    "/style.css": { file: join(PUBLIC_DIR, "style.css"), contentType: CSS, cacheControl: NO_CACHE },
    "/vendor/lightweight-charts.js": {
      file: join(charts, "dist", "lightweight-charts.standalone.production.js"),
      contentType: JS,
      cacheControl: VENDOR_CACHE,
    },
    "/docs": { file: join(PUBLIC_DIR, "docs.html"), contentType: HTML, cacheControl: NO_CACHE },
    "/docs/docs.js": { file: join(PUBLIC_DIR, "docs.js"), contentType: JS, cacheControl: NO_CACHE },
    "/docs/swagger-ui.css": {
      file: join(swagger, "swagger-ui.css"),
      contentType: CSS,
      cacheControl: VENDOR_CACHE,
    },
    "/docs/swagger-ui-bundle.js": {
      file: join(swagger, "swagger-ui-bundle.js"),
      contentType: JS,
      cacheControl: VENDOR_CACHE,
    },
  };
}

export async function loadStaticAssets(): Promise<Map<string, StaticAsset>> {
  const assets = new Map<string, StaticAsset>();
  for (const [path, { file, contentType, cacheControl }] of Object.entries(assetFiles())) {
    assets.set(path, { body: await readFile(file), contentType, cacheControl });
  }
  return assets;
}
