import { Code, ConnectError } from "@connectrpc/connect";
import { etagOf, newEtag, type Versioned } from "../../admin/revisions.js";
import type { Clock } from "../../domain/index.js";
import type { RealmRepository } from "../../storage/realm-repository.js";
import { invalidField } from "./errors.js";
import { FieldMaskError } from "../field-mask.js";

/** How long a claimed revision is remembered: far longer than any update takes. */
const CLAIM_TTL_MS = 60 * 60 * 1000;
/** Attempts of an update that names no etag before it gives up on a busy object. */
const BLIND_ATTEMPTS = 3;

/** One admin update of a versioned object. */
export interface VersionedUpdate<T extends Versioned> {
  realm: string;
  /** What the object is (`client`, `scope`...) and its key in the realm. */
  kind: string;
  key: string;
  /** The etag the request names; empty when it names none. */
  etag: string;
  read(): Promise<T | undefined>;
  /** The new object made from the current one; throws to refuse (validation). */
  apply(current: T): Promise<T>;
  write(next: T): Promise<void>;
  /** The refusal when the object does not exist. */
  notFound(): ConnectError;
}

/**
 * Optimistic concurrency for admin updates. The current object is read; a named etag that is not
 * current is ABORTED; the new object is made and checked; then the right to replace the current
 * revision is claimed with {@link RealmRepository.claimRevision} (an insert into a unique index, so
 * of concurrent updates of one revision exactly one proceeds on every instance, also on FerretDB
 * whose filtered updates are not atomic) and the object is written with a new etag. A loser that
 * named an etag is ABORTED; one that named none starts again on the fresh object (a few times).
 * Writes made outside the AdminService (a first login updating a user) do not claim revisions.
 */
export async function updateVersioned<T extends Versioned>(
  repository: RealmRepository,
  clock: Clock,
  update: VersionedUpdate<T>,
): Promise<{ before: T; after: T }> {
  for (let attempt = 1; ; attempt++) {
    const current = await update.read();
    if (!current) throw update.notFound();
    const revision = etagOf(current);
    if (update.etag !== "" && update.etag !== revision) {
      throw new ConnectError(`${update.kind} ${update.key} was changed since etag ${update.etag}: read it again`, Code.Aborted);
    }
    let next: T;
    try {
      next = await update.apply(current);
    } catch (error) {
      if (error instanceof FieldMaskError) throw invalidField("update_mask", error.message.replace(/^update_mask: /, ""));
      throw error;
    }
    const expiresAt = new Date(clock.now().getTime() + CLAIM_TTL_MS);
    if (await repository.claimRevision(update.realm, update.kind, update.key, revision, expiresAt)) {
      const after = { ...next, etag: newEtag() };
      await update.write(after);
      return { before: current, after };
    }
    if (update.etag !== "" || attempt >= BLIND_ATTEMPTS) {
      throw new ConnectError(`${update.kind} ${update.key} is being changed by another update: read it again`, Code.Aborted);
    }
  }
}
