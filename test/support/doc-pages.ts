import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, normalize } from "node:path";
import GithubSlugger from "github-slugger";
import { Lexer, type Token, type Tokens } from "marked";

/** A shell example of a documentation page: a `sh` block preceded by `<!-- example: NAME -->`. */
export interface DocExample {
  /** The page, relative to the repository root (`docs/exchange.md`). */
  page: string;
  /** What follows `example:` in the marker (`demo`, `ci-federation exchange`). */
  name: string;
  /** The block's commands. */
  script: string;
  /** The text of a `json` block right after it: the answer the page shows. */
  answer: string | undefined;
}

/** A relative link of a page. */
export interface DocLink {
  page: string;
  href: string;
}

/** The documentation pages: README.md, SECURITY.md, every docs/*.md and deploy/README.md, as paths relative to the repository root. */
export async function docPages(): Promise<string[]> {
  const docs = (await readdir("docs")).filter((name) => name.endsWith(".md")).sort();
  return ["README.md", "SECURITY.md", ...docs.map((name) => `docs/${name}`), "deploy/README.md"];
}

/** Every token of a page in document order, list items and block quotes included. */
async function tokensOf(page: string): Promise<Token[]> {
  const flat: Token[] = [];
  const walk = (tokens: Token[]): void => {
    for (const token of tokens) {
      flat.push(token);
      if (token.type === "list") walk((token as Tokens.List).items);
      else if ("tokens" in token && Array.isArray(token.tokens)) walk(token.tokens);
    }
  };
  walk(Lexer.lex(await readFile(page, "utf8")));
  return flat;
}

const MARKER = /^\s*<!--\s*example:\s*(.+?)\s*-->\s*$/;

/** The marked shell examples of `page`, in order. */
export async function examplesOf(page: string): Promise<DocExample[]> {
  const tokens = (await tokensOf(page)).filter((token) => token.type !== "space");
  const examples: DocExample[] = [];
  tokens.forEach((token, index) => {
    const name = token.type === "html" ? MARKER.exec(token.raw)?.[1] : undefined;
    if (!name) return;
    const block = tokens[index + 1];
    if (block?.type !== "code" || (block as Tokens.Code).lang !== "sh") throw new Error(`${page}: <!-- example: ${name} --> is not followed by a sh block`);
    const next = tokens[index + 2];
    const answer = next?.type === "code" && (next as Tokens.Code).lang === "json" ? (next as Tokens.Code).text : undefined;
    examples.push({ page, name, script: (block as Tokens.Code).text, answer });
  });
  return examples;
}

/** The relative links of `page` (no scheme): `other.md`, `other.md#anchor`, `#anchor`, `../examples/`. */
export async function relativeLinksOf(page: string): Promise<DocLink[]> {
  return (await tokensOf(page))
    .filter((token): token is Tokens.Link | Tokens.Image => token.type === "link" || token.type === "image")
    .map((token) => token.href)
    .filter((href) => !/^[a-z][a-z0-9+.-]*:/i.test(href))
    .map((href) => ({ page, href }));
}

/** The anchors GitHub gives the headings of a Markdown page (github-slugger, duplicates numbered). */
export async function anchorsOf(page: string): Promise<Set<string>> {
  const slugger = new GithubSlugger();
  const plain = (tokens: Token[]): string => tokens.map((token) => ("tokens" in token && Array.isArray(token.tokens) ? plain(token.tokens) : "text" in token ? String(token.text) : "")).join("");
  const headings = (await tokensOf(page)).filter((token): token is Tokens.Heading => token.type === "heading");
  return new Set(headings.map((heading) => slugger.slug(plain(heading.tokens))));
}

/** The file a link points at, relative to the repository root (its own page for `#anchor`), and its anchor. */
export function linkTarget(link: DocLink): { file: string; anchor: string | undefined } {
  const [path = "", anchor] = link.href.split("#", 2);
  return { file: path === "" ? link.page : normalize(join(dirname(link.page), decodeURIComponent(path))), anchor };
}

/**
 * Why `link` does not resolve, or undefined when it does: its file must exist (relative to its page)
 * and its anchor, if any, must be a heading of that file.
 */
export async function brokenReason(link: DocLink): Promise<string | undefined> {
  const { file: target, anchor } = linkTarget(link);
  if (!existsSync(target)) return `${target} does not exist`;
  if (anchor === undefined) return undefined;
  if (!target.endsWith(".md")) return `#${anchor}: ${target} is not a Markdown page`;
  return (await anchorsOf(target)).has(anchor) ? undefined : `${target} has no heading #${anchor}`;
}
