import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  Health,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
  type HealthCheckResponse,
} from "../../gen/health/v1/health_pb.js";
import type { HealthMonitor } from "./health.js";

/**
 * The standard gRPC health service (`grpc.health.v1.Health`, gRPC's health-checking protocol), as
 * Kubernetes gRPC probes and `grpc_health_probe` call it. The overall status (service `""`) and
 * every served service share one status: all of them need the same storage and keys.
 *
 * @param services - the fully-qualified names of the served services, read at each call.
 */
export function healthServiceImpl(monitor: HealthMonitor, services: () => string[]): ServiceImpl<typeof Health> {
  const statusOf = (service: string): ServingStatus => {
    if (service !== "" && !services().includes(service)) return ServingStatus.SERVICE_UNKNOWN;
    return monitor.ready ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  };
  const answer = (status: ServingStatus): HealthCheckResponse => create(HealthCheckResponseSchema, { status });
  return {
    check(request) {
      const status = statusOf(request.service);
      // health-checking.md: an unknown service fails Check with NOT_FOUND.
      if (status === ServingStatus.SERVICE_UNKNOWN) throw new ConnectError(`unknown service ${request.service}`, Code.NotFound);
      return answer(status);
    },
    async *watch(request, context) {
      // health-checking.md: send the current status at once, then each change; an unknown service
      // is SERVICE_UNKNOWN without ending the call. The stream ends when the server shuts down.
      let last: ServingStatus | undefined;
      while (!context.signal.aborted && !monitor.closed) {
        const status = statusOf(request.service);
        if (status !== last) yield answer(status);
        last = status;
        await monitor.changed(context.signal);
      }
      if (!monitor.closed) return;
      const final = statusOf(request.service);
      if (final !== last) yield answer(final);
    },
    list() {
      const statuses = Object.fromEntries(["", ...services()].map((service) => [service, answer(statusOf(service))]));
      return { statuses };
    },
  };
}
