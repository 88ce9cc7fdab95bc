import { create, createRegistry, toBinary, type DescFile, type DescService, type Registry } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ServiceImpl } from "@connectrpc/connect";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";

/** A reflection request of either version, as far as answering it goes. */
type ReflectionRequest = {
  messageRequest:
    | { case: "fileByFilename" | "fileContainingSymbol" | "allExtensionNumbersOfType" | "listServices"; value: string }
    | { case: "fileContainingExtension"; value: { containingType: string; extensionNumber: number } }
    | { case: undefined; value?: undefined };
};

/** A reflection answer of either version, before it becomes that version's message. */
type ReflectionAnswer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

/** The files with every file they import, transitively, each once, in order of discovery. */
function withImports(roots: DescFile[]): DescFile[] {
  const files = new Map<string, DescFile>();
  const add = (file: DescFile) => {
    if (files.has(file.name)) return;
    files.set(file.name, file);
    file.dependencies.forEach(add);
  };
  roots.forEach(add);
  return [...files.values()];
}

/**
 * Answers gRPC server reflection (`grpc.reflection.v1`, the reflection protocol of grpcurl and
 * `buf curl`) from the descriptors the generated code embeds: the services on the router and
 * the files they need, nothing else.
 */
class ReflectionIndex {
  readonly #services: () => DescService[];
  #cache: { count: number; files: Map<string, DescFile>; registry: Registry } | undefined;

  constructor(services: () => DescService[]) {
    this.#services = services;
  }

  answer(request: ReflectionRequest): ReflectionAnswer {
    const { case: kind, value } = request.messageRequest;
    switch (kind) {
      case "listServices":
        return { case: "listServicesResponse", value: { service: this.#served().map((s) => ({ name: s.typeName })) } };
      case "fileByFilename":
        return this.#fileAnswer(this.#index().files.get(value), `file ${value}`);
      case "fileContainingSymbol":
        return this.#fileAnswer(this.#fileOfSymbol(value), `symbol ${value}`);
      case "fileContainingExtension": {
        const message = this.#message(value.containingType);
        const extension = message && this.#index().registry.getExtensionFor(message, value.extensionNumber);
        return this.#fileAnswer(extension?.file, `extension ${value.extensionNumber} of ${value.containingType}`);
      }
      case "allExtensionNumbersOfType": {
        const message = this.#message(value);
        if (!message) return notFound(`type ${value}`);
        const numbers = [...this.#index().registry]
          .filter((desc) => desc.kind === "extension" && desc.extendee.typeName === value)
          .map((desc) => (desc.kind === "extension" ? desc.number : 0));
        return { case: "allExtensionNumbersResponse", value: { baseTypeName: value, extensionNumber: numbers } };
      }
      default:
        return { case: "errorResponse", value: { errorCode: Code.InvalidArgument, errorMessage: "empty request" } };
    }
  }

  #served(): DescService[] {
    const byName = new Map(this.#services().map((service) => [service.typeName, service]));
    return [...byName.values()];
  }

  #index(): { files: Map<string, DescFile>; registry: Registry } {
    const services = this.#served();
    if (this.#cache?.count !== services.length) {
      const files = withImports(services.map((service) => service.file));
      this.#cache = { count: services.length, files: new Map(files.map((f) => [f.name, f])), registry: createRegistry(...files) };
    }
    return this.#cache;
  }

  #message(typeName: string) {
    return this.#index().registry.getMessage(typeName);
  }

  /** The file declaring a type, service, method, field or enum value named `symbol`. */
  #fileOfSymbol(symbol: string): DescFile | undefined {
    const { registry } = this.#index();
    const direct = registry.get(symbol);
    if (direct) return direct.file;
    const parent = registry.get(symbol.slice(0, Math.max(0, symbol.lastIndexOf("."))));
    const member = symbol.slice(symbol.lastIndexOf(".") + 1);
    if (parent?.kind === "service" && parent.methods.some((m) => m.name === member)) return parent.file;
    if (parent?.kind === "message" && parent.fields.some((f) => f.name === member)) return parent.file;
    if (parent?.kind === "enum" && parent.values.some((v) => v.name === member)) return parent.file;
    return undefined;
  }

  /** A file and every file it imports, transitively: what a client needs to build the descriptors. */
  #fileAnswer(file: DescFile | undefined, what: string): ReflectionAnswer {
    if (!file) return notFound(what);
    const fileDescriptorProto = withImports([file]).map((f) => toBinary(FileDescriptorProtoSchema, f.proto));
    return { case: "fileDescriptorResponse", value: { fileDescriptorProto } };
  }
}

function notFound(what: string): ReflectionAnswer {
  return { case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage: `${what} not found` } };
}

/** The reflection services, `grpc.reflection.v1` and (for older tools) `grpc.reflection.v1alpha`. */
export interface ReflectionServices {
  v1: ServiceImpl<typeof v1.ServerReflection>;
  v1alpha: ServiceImpl<typeof v1alpha.ServerReflection>;
}

/**
 * Server reflection over the services `services()` names (read at each request, so every service
 * on the router is described, whatever the order of registration).
 */
export function reflectionServiceImpls(services: () => DescService[]): ReflectionServices {
  const index = new ReflectionIndex(services);
  return {
    v1: {
      async *serverReflectionInfo(requests) {
        for await (const request of requests) {
          yield create(v1.ServerReflectionResponseSchema, { validHost: request.host, originalRequest: request, messageResponse: index.answer(request) });
        }
      },
    },
    v1alpha: {
      async *serverReflectionInfo(requests) {
        for await (const request of requests) {
          yield create(v1alpha.ServerReflectionResponseSchema, { validHost: request.host, originalRequest: request, messageResponse: index.answer(request) });
        }
      },
    },
  };
}

/** The reflection service descriptors, for registration next to {@link reflectionServiceImpls}. */
export const REFLECTION_SERVICES = { v1: v1.ServerReflection, v1alpha: v1alpha.ServerReflection } as const;
