/** The part of a connection string after the credentials: `mongodb://u:p@h1:1,h2:2/db?x` -> `h1:1,h2:2/db?x`. */
function afterCredentials(uri: string): string {
  const rest = uri.replace(/^[a-z0-9+.-]+:\/\//i, "");
  return rest.slice(rest.lastIndexOf("@") + 1);
}

/** `host:port[,host:port]` of a connection string, without credentials. */
export function hostsOf(uri: string): string {
  return afterCredentials(uri).split(/[/?]/, 1)[0];
}

/** The database a connection string names in its path, if any. */
export function dbNameOf(uri: string): string | undefined {
  const path = /^[^/?]*\/([^?]+)/.exec(afterCredentials(uri))?.[1];
  return path ? decodeURIComponent(path) : undefined;
}

/** Removes the connection string's credentials from a message, should a driver error quote them. */
export function redact(message: string, uri: string): string {
  const rest = uri.replace(/^[a-z0-9+.-]+:\/\//i, "");
  const at = rest.lastIndexOf("@");
  if (at < 0) return message;
  const userinfo = rest.slice(0, at);
  const password = userinfo.slice(userinfo.indexOf(":") + 1);
  const secrets = [userinfo, password, safeDecode(password)].filter((s) => s.length > 0);
  return secrets.reduce((text, secret) => text.split(secret).join("***"), message);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
