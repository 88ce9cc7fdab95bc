/** RFC 3986 §3.2.2: `host:port` as in a URL's authority, an IPv6 literal in brackets (`[::1]:8080`). */
export function authority(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}
