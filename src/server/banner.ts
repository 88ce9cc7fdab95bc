import type { BootstrapOutcome } from "../admin/bootstrap.js";
import type { ServeSettings } from "../config/serve-config.js";
import { authority } from "../domain/authority.js";
import type { LogFormat, Logger } from "../ops/logger.js";
import type { WorkerListening } from "./workers.js";

/** What the banner says: where Tessera listens, what the bootstrap did, how many workers. */
export type ListeningFacts = Omit<WorkerListening, "kind"> & { bootstrap: BootstrapOutcome | undefined; workers?: number };

/** The start banner's facts, as the fields of a log record. */
interface BannerRecord {
  /** `main`: gRPC, gRPC-Web, Connect and OAuth 2.0 HTTP; `grpc`: the `--grpc-port` (gRPC through @grpc/grpc-js). */
  urls: { main: string; grpc?: string };
  storage: string;
  /** The issuer of realm `{realm}`. */
  issuers: string;
  workers?: number;
  /** A generated admin secret is shown here once, and in no other line. */
  bootstrapAdmin?: { realm: "master"; clientId: string; generatedSecret: string };
  /** With the demo realm: a first request to try. */
  tryCommand?: string;
}

function bannerRecord(settings: ServeSettings, facts: ListeningFacts): BannerRecord {
  const scheme = facts.secure ? "https" : "http";
  const main = `${scheme}://${authority(settings.host, facts.port)}`;
  return {
    urls: { main, ...(facts.grpcPort !== undefined && { grpc: `${scheme}://${authority(settings.host, facts.grpcPort)}` }) },
    storage: settings.storage.kind,
    issuers: `${facts.publicUrl}/realms/{realm}`,
    ...(facts.workers !== undefined && { workers: facts.workers }),
    ...(facts.bootstrap?.kind === "generated" && {
      bootstrapAdmin: { realm: "master", clientId: facts.bootstrap.clientId, generatedSecret: facts.bootstrap.secret },
    }),
    ...(settings.imports.length === 0 &&
      settings.storage.kind === "memory" && {
        tryCommand: `curl -s -u gateway:gateway-secret -d grant_type=client_credentials -d scope=orders.read ${main}/realms/demo/protocol/openid-connect/token`,
      }),
  };
}

/** The banner as a person reads it on a terminal. */
function bannerText(record: BannerRecord): string {
  const processes = record.workers !== undefined ? `; ${record.workers} worker processes` : "";
  const lines = [
    `Tessera listening on ${record.urls.main} (gRPC, gRPC-Web, Connect and OAuth 2.0 HTTP on one port)`,
    ...(record.urls.grpc !== undefined ? [`Tessera listening on ${record.urls.grpc} (gRPC only, through @grpc/grpc-js)`] : []),
    `storage: ${record.storage}; issuers: ${record.issuers}${processes}`,
  ];
  if (record.bootstrapAdmin) {
    lines.push(
      "",
      `AdminService admin client (realm master), shown once and never again:`,
      `  client_id: ${record.bootstrapAdmin.clientId}`,
      `  secret:    ${record.bootstrapAdmin.generatedSecret}`,
      "  (set TESSERA_BOOTSTRAP_ADMIN_SECRET to choose it instead)",
    );
  }
  if (record.tryCommand) lines.push("", "Demo realm loaded. Try:", `  ${record.tryCommand}`);
  return `${lines.join("\n")}\n`;
}

/**
 * Says where Tessera listens, on stdout: in `json` format a log record (`msg: "Tessera listening"`
 * with {@link BannerRecord}'s fields) like every other line; in `pretty` format the banner text.
 */
export function announceListening(settings: ServeSettings, facts: ListeningFacts, format: LogFormat, log: Logger): void {
  const record = bannerRecord(settings, facts);
  if (format === "json") log.info(record, "Tessera listening");
  else process.stdout.write(bannerText(record));
}
