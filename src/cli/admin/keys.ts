import { SigningKeySchema } from "../../../gen/tessera/admin/v1/signing_key_pb.js";
import { printMessage, printMessages, readUserFile, text, type Command } from "./command.js";

const COLUMNS = ["kid", "algorithm", "state", "createdAt", "retireAt", "origin"];

/** `tessera admin keys ...`: a realm's signing keys (public halves only). */
export const KEY_COMMANDS: Command[] = [
  {
    words: "keys list",
    arguments: ["REALM"],
    summary: "a realm's signing keys, newest first",
    async run([realm], context) {
      printMessages(context, SigningKeySchema, (await context.admin.listSigningKeys({ realm })).keys, COLUMNS);
    },
  },
  {
    words: "keys rotate",
    arguments: ["REALM"],
    summary: "a new active key; the old one turns passive until its tokens expire",
    flags: {
      algorithm: { type: "string", placeholder: "ES256|RS256|PS256|EdDSA", help: "algorithm of the new key (default the realm's)" },
      activate: { type: "string", placeholder: "KID", help: "activate this passive key instead of generating one" },
    },
    async run([realm], context) {
      const { keys } = await context.admin.rotateSigningKey({ realm, algorithm: text(context.flags, "algorithm") ?? "", activateKid: text(context.flags, "activate") ?? "" });
      printMessages(context, SigningKeySchema, keys, COLUMNS);
    },
  },
  {
    words: "keys import",
    arguments: ["REALM", "JWK_FILE"],
    summary: "add an external private key (a JWK with alg), passive unless --activate",
    flags: { activate: { type: "boolean", help: "sign with it from now on" } },
    async run([realm, path], context) {
      const privateJwkJson = await readUserFile(path);
      printMessage(context, SigningKeySchema, (await context.admin.importSigningKey({ realm, privateJwkJson, activate: context.flags.activate === true })).key);
    },
  },
];
