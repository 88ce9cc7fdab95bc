/**
 * The steady load of the storage outage test: loops of real clients (OAuth form over fetch, @grpc/grpc-js on
 * `--grpc-port`, the AdminService over Connect) that each record every answer (kind, when it started, how long it
 * took, success, storage unavailable, or anything else) and every write a success acknowledged.
 */
import * as grpc from "@grpc/grpc-js";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { decodeJwt } from "jose";
import { AdminService } from "../../gen/tessera/admin/v1/admin_service_pb.js";
import { oauthDetailOf } from "../../src/rpc/errors.js";
import { ConnectError, Code } from "@connectrpc/connect";
import { basic, call, decodeStatusDetails, loadTokenExchangeClient, type Unary } from "../support/grpc-js-client.js";
import { postForm, type TokenAnswer } from "../support/oauth-client.js";
import { SECRETS } from "../support/test-realm.js";

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token";

/** How one request ended, as a client sees it. */
export type Outcome = "ok" | "unavailable" | "other";

/** One answered request. */
export interface Answer {
  loop: string;
  kind: "client_credentials" | "token_exchange" | "refresh" | "revocation" | "create_user";
  startedAt: number;
  ms: number;
  outcome: Outcome;
  /** Status and error for an answer that is neither success nor storage-unavailable. */
  detail?: string;
}

/** The writes that a success acknowledged: each must be in storage once afterwards. */
export interface Acknowledged {
  /** Session ids of token exchanges (impersonation starts a session). */
  sessions: Set<string>;
  /** Refresh tokens issued (by exchange or refresh). */
  refreshTokens: Set<string>;
  /** Refresh tokens a successful refresh used up. */
  usedRefreshTokens: Set<string>;
  /** jti of access tokens whose revocation was answered 200. */
  revocations: Set<string>;
  /** Ids of users created through the AdminService. */
  users: Set<string>;
}

/** What the load loops share: where to send, when to stop, what they saw. */
export interface LoadTarget {
  realm: string;
  tokenUrl: string;
  revokeUrl: string;
  grpcAddress: string;
  baseUrl: string;
  adminHeaders: Record<string, string>;
}

/** A running load: {@link Load.stop} ends the loops after their current request and resolves when they have. */
export interface Load {
  answers: Answer[];
  acknowledged: Acknowledged;
  stop(): Promise<void>;
}

/** Pause between two rounds of one loop: a steady, bounded load on a 2-core machine. */
const PAUSE_MS = 20;
/** A request still unanswered this long is recorded as hung, and its loop goes on. */
const HUNG_MS = 10_000;

interface Round {
  record(kind: Answer["kind"], attempt: () => Promise<{ outcome: Outcome; detail?: string }>): Promise<boolean>;
}

function formOutcome(answer: TokenAnswer, okStatus = 200): { outcome: Outcome; detail?: string } {
  if (answer.status === okStatus) return { outcome: "ok" };
  if (answer.status === 503 && answer.body.error === "temporarily_unavailable") return { outcome: "unavailable" };
  return { outcome: "other", detail: `${answer.status} ${JSON.stringify(answer.body)}` };
}

function grpcOutcome(error: grpc.ServiceError | undefined): { outcome: Outcome; detail?: string } {
  if (!error) return { outcome: "ok" };
  const details = error.metadata.get("grpc-status-details-bin").length > 0 ? decodeStatusDetails(error) : undefined;
  if (error.code === grpc.status.UNAVAILABLE && details?.oauth?.error === "temporarily_unavailable") return { outcome: "unavailable" };
  return { outcome: "other", detail: `${grpc.status[error.code]} ${error.details} ${details?.oauth?.error ?? ""}` };
}

/** Starts `loops` form loops, `loops` grpc-js loops and one AdminService loop against `target`. */
export function startLoad(target: LoadTarget, loops = 2): Load {
  const answers: Answer[] = [];
  const acknowledged: Acknowledged = { sessions: new Set(), refreshTokens: new Set(), usedRefreshTokens: new Set(), revocations: new Set(), users: new Set() };
  let running = true;

  const runLoop = async (loop: string, round: (r: Round) => Promise<void>) => {
    const recorder: Round = {
      async record(kind, attempt) {
        const startedAt = Date.now();
        let result: { outcome: Outcome; detail?: string };
        let timer: NodeJS.Timeout | undefined;
        const hung = new Promise<{ outcome: Outcome; detail: string }>((resolve) => {
          timer = setTimeout(() => resolve({ outcome: "other", detail: `no answer after ${HUNG_MS} ms` }), HUNG_MS);
        });
        try {
          result = await Promise.race([attempt(), hung]);
        } catch (error) {
          result = { outcome: "other", detail: `threw ${String(error)}` };
        } finally {
          clearTimeout(timer);
        }
        answers.push({ loop, kind, startedAt, ms: Date.now() - startedAt, ...result });
        return result.outcome === "ok";
      },
    };
    while (running) {
      await round(recorder);
      await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
    }
  };

  const formRound = async (r: Round) => {
    const impersonator: [string, string] = ["impersonator", SECRETS.impersonator];
    let own = "";
    if (!(await r.record("client_credentials", async () => {
      const answer = await postForm(target.tokenUrl, { grant_type: "client_credentials", scope: "orders.read" }, { basic: impersonator });
      own = answer.body.access_token as string;
      return formOutcome(answer);
    }))) return;
    let access = "";
    let refresh = "";
    if (!(await r.record("token_exchange", async () => {
      const answer = await postForm(
        target.tokenUrl,
        { grant_type: TOKEN_EXCHANGE, subject_token: own, subject_token_type: ACCESS_TOKEN, requested_subject: "alice", scope: "orders.read" },
        { basic: impersonator },
      );
      if (answer.status === 200) {
        access = answer.body.access_token as string;
        refresh = answer.body.refresh_token as string;
        acknowledged.sessions.add(decodeJwt(access).sid as string);
        acknowledged.refreshTokens.add(refresh);
      }
      return formOutcome(answer);
    }))) return;
    await r.record("refresh", async () => {
      const answer = await postForm(target.tokenUrl, { grant_type: "refresh_token", refresh_token: refresh }, { basic: impersonator });
      if (answer.status === 200) {
        acknowledged.usedRefreshTokens.add(refresh);
        acknowledged.refreshTokens.add(answer.body.refresh_token as string);
      }
      return formOutcome(answer);
    });
    await r.record("revocation", async () => {
      const answer = await postForm(target.revokeUrl, { token: access, token_type_hint: "access_token" }, { basic: impersonator });
      if (answer.status === 200) acknowledged.revocations.add(decodeJwt(access).jti as string);
      return formOutcome(answer);
    });
  };

  const Client = loadTokenExchangeClient();
  const grpcClients: grpc.Client[] = [];
  const grpcRound = (client: ReturnType<typeof newGrpcClient>) => async (r: Round) => {
    const metadata = () => basic("impersonator", SECRETS.impersonator);
    let own = "";
    if (!(await r.record("client_credentials", async () => {
      const { response, error } = await call(client.ClientCredentials, client, { realm: target.realm, scope: "orders.read" }, metadata());
      own = response?.accessToken ?? "";
      return grpcOutcome(error);
    }))) return;
    let access = "";
    let refresh = "";
    if (!(await r.record("token_exchange", async () => {
      const request = { realm: target.realm, subjectToken: own, subjectTokenType: ACCESS_TOKEN, requestedSubject: "alice", scope: "orders.read" };
      const { response, error } = await call(client.ExchangeToken, client, request, metadata());
      if (response) {
        access = response.accessToken;
        refresh = response.refreshToken;
        acknowledged.sessions.add(decodeJwt(access).sid as string);
        acknowledged.refreshTokens.add(refresh);
      }
      return grpcOutcome(error);
    }))) return;
    await r.record("refresh", async () => {
      const { response, error } = await call(client.RefreshToken, client, { realm: target.realm, refreshToken: refresh }, metadata());
      if (response) {
        acknowledged.usedRefreshTokens.add(refresh);
        acknowledged.refreshTokens.add(response.refreshToken);
      }
      return grpcOutcome(error);
    });
    await r.record("revocation", async () => {
      const { error } = await call(client.RevokeToken, client, { realm: target.realm, token: access, tokenTypeHint: "access_token" }, metadata());
      if (!error) acknowledged.revocations.add(decodeJwt(access).jti as string);
      return grpcOutcome(error);
    });
  };
  const newGrpcClient = () => {
    const client = new Client(target.grpcAddress, grpc.credentials.createInsecure()) as InstanceType<typeof Client> & {
      ExchangeToken: Unary<object, { accessToken: string; refreshToken: string }>;
      RefreshToken: Unary<object, { refreshToken: string }>;
      RevokeToken: Unary<object, object>;
    };
    grpcClients.push(client);
    return client;
  };

  const admin = createClient(AdminService, createConnectTransport({ baseUrl: target.baseUrl, httpVersion: "1.1" }));
  let userNumber = 0;
  const adminRound = async (r: Round) => {
    const username = `load-user-${++userNumber}`;
    await r.record("create_user", async () => {
      try {
        const { user } = await admin.createUser({ realm: target.realm, user: { username } }, { headers: target.adminHeaders });
        acknowledged.users.add(user?.id ?? "");
        return { outcome: "ok" };
      } catch (error) {
        const connect = ConnectError.from(error);
        if (connect.code === Code.Unavailable && oauthDetailOf(connect)?.error === "temporarily_unavailable") return { outcome: "unavailable" };
        return { outcome: "other", detail: `${Code[connect.code]} ${connect.rawMessage}` };
      }
    });
  };

  const loopsDone = Promise.all([
    ...Array.from({ length: loops }, (_, i) => runLoop(`form-${i}`, formRound)),
    ...Array.from({ length: loops }, (_, i) => runLoop(`grpc-js-${i}`, grpcRound(newGrpcClient()))),
    runLoop("admin", adminRound),
  ]);
  return {
    answers,
    acknowledged,
    stop: async () => {
      running = false;
      await loopsDone;
      for (const client of grpcClients) client.close();
    },
  };
}
