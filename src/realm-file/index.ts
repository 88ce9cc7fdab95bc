/**
 * The realm file: the YAML or JSON import format of a realm (EXCHANGE.md, "Realm file"), and the
 * rules every realm, client, scope and user must meet, for reuse by the admin API.
 */
export { parseRealmDocument, parseRealmFile, readRealmDocument } from "./parse.js";
export { renderRealmFile, toRealmFile, type RealmFileFormat } from "./export.js";
export { RealmFileError } from "./realm-file-error.js";
export { realmFileSchema, type RealmFile } from "./schema.js";
export { formatIssue, formatIssuePath, type IssuePath, type ValidationIssue } from "./issues.js";
export { validateClient, type ClientValidationContext } from "./validate-client.js";
export { validateRealm, validateRealmBundle, validateScope, validateUser } from "./validate-realm.js";
export { validateIdentityProvider } from "./validate-identity-provider.js";
export type { ConversionOptions } from "./convert.js";
