/** What a redacted secret reads as. */
export const REDACTED_SECRET = "***";

/** Query parameters whose value is a secret (`?password=…`, `&token=…`, `api_key=…`, …). */
const SECRET_PARAM =
  /([?&;](?:password|passwd|pass|pwd|secret|token|auth_token|access_token|refresh_token|api_key|apikey|api-key|sslpassword|sslkey)=)[^&#;\s,"'<>]*/gi;
/** A URL scheme (`nats://`, `postgres://`, …). */
const SCHEME = /[a-z][a-z0-9+.-]*:\/\//i;
/** Schemes whose user-only userinfo is a token (`nats://s3cr3t@host`). */
const TOKEN_SCHEMES = new Set(["nats", "tls", "ws", "wss"]);
/** The pieces of text a URL can be: split at whitespace, commas (NATS lists), quotes and brackets. */
const TOKEN = /[^\s,"'`<>(){}]+/g;

/** `user:pass` → `user:***`; a user alone is kept unless it is a token (`nats://token@`). */
function redactUserinfo(userinfo: string, userIsToken: boolean): string {
  const colon = userinfo.indexOf(":");
  if (colon === -1) return userIsToken && userinfo !== "" ? REDACTED_SECRET : userinfo;
  return `${userinfo.slice(0, colon)}:${REDACTED_SECRET}`;
}

/**
 * Where the userinfo of `authority…` ends (its `@`), or -1. The `@` before the first `/`, `?` or `#`
 * when there is one (a well-formed URL); else the last `@` (a password with a raw `/` in it).
 */
function userinfoEnd(rest: string): number {
  const pathStart = rest.search(/[/?#]/);
  const authority = pathStart === -1 ? rest : rest.slice(0, pathStart);
  const at = authority.lastIndexOf("@");
  return at !== -1 ? at : rest.lastIndexOf("@");
}

function redactToken(token: string): string {
  const scheme = SCHEME.exec(token);
  if (scheme !== null) {
    const start = scheme.index + scheme[0].length;
    const rest = token.slice(start);
    const at = userinfoEnd(rest);
    if (at === -1) return token;
    const name = scheme[0].slice(0, -3).toLowerCase();
    const userinfo = redactUserinfo(rest.slice(0, at), TOKEN_SCHEMES.has(name));
    return token.slice(0, start) + userinfo + rest.slice(at);
  }
  // No scheme: `user:pass@host` (a bare NATS server, a DSN without its scheme).
  const at = token.lastIndexOf("@");
  if (at <= 0 || at === token.length - 1) return token;
  const userinfo = token.slice(0, at);
  return userinfo.includes(":") ? redactUserinfo(userinfo, false) + token.slice(at) : token;
}

/**
 * `text` with every credential a URL can carry replaced by `***`: the password of a userinfo
 * (`postgres://u:***@h/db`, also without a scheme: `u:***@host`), a NATS token (`nats://***@host`),
 * and secret query parameters (`?password=***`, `&token=***`). Works on free text (error messages,
 * log lines, comma-separated server lists); text without a URL is returned as it is.
 */
export function redactSecrets(text: string): string {
  if (!text.includes("@") && !text.includes("=")) return text;
  return text.replace(TOKEN, redactToken).replace(SECRET_PARAM, `$1${REDACTED_SECRET}`);
}
