/** Whether `value` is an absolute `http:` or `https:` URL. */
export function isHttpUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const { protocol } = new URL(value);
  return protocol === "https:" || protocol === "http:";
}

/** Whether `value` is an absolute URI without a fragment, as RFC 8707 §2 asks of a resource. */
export function isResourceUri(value: string): boolean {
  return URL.canParse(value) && !value.includes("#") && /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(value);
}
