import {
  create,
  type DescEnum,
  type DescExtension,
  type DescFile,
  type DescMessage,
  type DescService,
  type MessageInitShape,
  toBinary,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectRouter } from "@connectrpc/connect";
import {
  ServerReflection,
  type ServerReflectionRequest,
  ServerReflectionResponseSchema,
} from "@shop/proto/grpc";

/**
 * Registers `grpc.reflection.v1.ServerReflection` on a router, so tools such as grpcurl can list and
 * describe the services without the `.proto` files.
 *
 * Given `services`, it reflects exactly those (and itself). Without them it reflects every service
 * registered on the router, read at the first reflection request, so the order of registration does not
 * matter. Files are answered from the protobuf-es descriptors the services were generated with: each
 * answer carries the file and all its transitive imports, so a client never has to ask twice.
 *
 * @example
 * ```ts
 * import * as http2 from "node:http2";
 * import type { ConnectRouter } from "@connectrpc/connect";
 * import { connectNodeAdapter } from "@connectrpc/connect-node";
 * import { ProductService } from "@shop/proto/product";
 * import { createHealthState, registerHealth } from "./health.ts";
 * const health = createHealthState();
 * const routes = (router: ConnectRouter) => {
 *   router.service(ProductService, {});
 *   registerHealth(router, health);
 *   registerReflection(router); // lists ProductService, Health and ServerReflection
 * };
 * http2.createServer(connectNodeAdapter({ routes })).listen(8080);
 * ```
 */
export function registerReflection(router: ConnectRouter, services?: Iterable<DescService>): ConnectRouter {
  const explicit = services === undefined ? undefined : [...services];
  let index: ReflectionIndex | undefined;
  return router.service(ServerReflection, {
    async *serverReflectionInfo(requests) {
      index ??= new ReflectionIndex([
        ServerReflection,
        ...(explicit ?? router.handlers.map((handler) => handler.service)),
      ]);
      for await (const request of requests) {
        yield create(ServerReflectionResponseSchema, {
          validHost: request.host,
          originalRequest: request,
          messageResponse: index.answer(request),
        });
      }
    },
  });
}

type MessageResponse = NonNullable<
  MessageInitShape<typeof ServerReflectionResponseSchema>["messageResponse"]
>;

/** Every name a client may ask about, resolved once from the reflected services' files. */
class ReflectionIndex {
  readonly #serviceNames: string[];
  readonly #files = new Map<string, DescFile>();
  readonly #fileOfSymbol = new Map<string, DescFile>();
  readonly #messages = new Map<string, DescMessage>();
  readonly #extensions = new Map<string, Map<number, DescExtension>>();
  readonly #encoded = new Map<DescFile, Uint8Array>();

  constructor(services: readonly DescService[]) {
    this.#serviceNames = [...new Set(services.map((service) => service.typeName))].sort();
    for (const service of services) this.#addFile(service.file);
  }

  answer(request: ServerReflectionRequest): MessageResponse {
    const ask = request.messageRequest;
    switch (ask.case) {
      case "listServices":
        return {
          case: "listServicesResponse",
          value: { service: this.#serviceNames.map((name) => ({ name })) },
        };
      case "fileByFilename": {
        const file = this.#files.get(ask.value);
        return file ? this.#filesResponse(file) : notFound(`File ${JSON.stringify(ask.value)} not found`);
      }
      case "fileContainingSymbol": {
        const symbol = ask.value.startsWith(".") ? ask.value.slice(1) : ask.value;
        const file = this.#fileOfSymbol.get(symbol);
        return file ? this.#filesResponse(file) : notFound(`Symbol ${JSON.stringify(ask.value)} not found`);
      }
      case "fileContainingExtension": {
        const { containingType, extensionNumber } = ask.value;
        const extension = this.#extensions.get(containingType)?.get(extensionNumber);
        return extension
          ? this.#filesResponse(extension.file)
          : notFound(`Extension ${extensionNumber} of ${JSON.stringify(containingType)} not found`);
      }
      case "allExtensionNumbersOfType": {
        if (!this.#messages.has(ask.value)) return notFound(`Type ${JSON.stringify(ask.value)} not found`);
        const numbers = [...(this.#extensions.get(ask.value)?.keys() ?? [])].sort((a, b) => a - b);
        return {
          case: "allExtensionNumbersResponse",
          value: { baseTypeName: ask.value, extensionNumber: numbers },
        };
      }
      case undefined:
        return error(Code.InvalidArgument, "The request names no question (message_request is empty)");
    }
  }

  /** The file first, then every file it imports, directly or not, each once. */
  #filesResponse(file: DescFile): MessageResponse {
    const ordered: DescFile[] = [];
    const seen = new Set<DescFile>();
    const queue = [file];
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      if (seen.has(next)) continue;
      seen.add(next);
      ordered.push(next);
      queue.push(...next.dependencies);
    }
    return {
      case: "fileDescriptorResponse",
      value: { fileDescriptorProto: ordered.map((f) => this.#encode(f)) },
    };
  }

  #encode(file: DescFile): Uint8Array {
    let bytes = this.#encoded.get(file);
    if (bytes === undefined) {
      bytes = toBinary(FileDescriptorProtoSchema, file.proto);
      this.#encoded.set(file, bytes);
    }
    return bytes;
  }

  #addFile(file: DescFile): void {
    if (this.#files.has(file.proto.name)) return;
    this.#files.set(file.proto.name, file);
    for (const dependency of file.dependencies) this.#addFile(dependency);
    for (const service of file.services) {
      this.#fileOfSymbol.set(service.typeName, file);
      for (const method of service.methods) {
        this.#fileOfSymbol.set(`${service.typeName}.${method.name}`, file);
      }
    }
    for (const message of file.messages) this.#addMessage(message);
    for (const enumeration of file.enums) this.#addEnum(enumeration, file.proto.package);
    for (const extension of file.extensions) this.#addExtension(extension);
  }

  #addMessage(message: DescMessage): void {
    const file = message.file;
    this.#fileOfSymbol.set(message.typeName, file);
    this.#messages.set(message.typeName, message);
    for (const field of message.fields) this.#fileOfSymbol.set(`${message.typeName}.${field.name}`, file);
    for (const oneof of message.oneofs) this.#fileOfSymbol.set(`${message.typeName}.${oneof.name}`, file);
    for (const nested of message.nestedMessages) this.#addMessage(nested);
    for (const nested of message.nestedEnums) this.#addEnum(nested, message.typeName);
    for (const nested of message.nestedExtensions) this.#addExtension(nested);
  }

  /** Enum values are scoped beside their enum, not inside it, as in C++: `pkg.Status.ACTIVE` is `pkg.ACTIVE`. */
  #addEnum(enumeration: DescEnum, scope: string): void {
    this.#fileOfSymbol.set(enumeration.typeName, enumeration.file);
    for (const value of enumeration.values) {
      this.#fileOfSymbol.set(scope === "" ? value.name : `${scope}.${value.name}`, enumeration.file);
    }
  }

  #addExtension(extension: DescExtension): void {
    this.#fileOfSymbol.set(extension.typeName, extension.file);
    let numbers = this.#extensions.get(extension.extendee.typeName);
    if (numbers === undefined) {
      numbers = new Map();
      this.#extensions.set(extension.extendee.typeName, numbers);
    }
    numbers.set(extension.number, extension);
  }
}

function notFound(message: string): MessageResponse {
  return error(Code.NotFound, message);
}

function error(code: Code, message: string): MessageResponse {
  return { case: "errorResponse", value: { errorCode: code, errorMessage: message } };
}
