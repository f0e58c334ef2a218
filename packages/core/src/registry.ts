import { tmeshError } from './errors.js';
import type { Infer, StructSchema } from './schema.js';

/** A message type: a name (the universal wire's type name), an id (the frame's u8 messageType) and a schema. */
export interface MessageType<T = unknown> {
  readonly name: string;
  readonly id: number;
  readonly schema: StructSchema<T>;
}

/** Message ids 240..255 belong to tmesh's own link control messages (acks, replies, heartbeats). */
export const CONTROL_MESSAGE_IDS = Object.freeze({ first: 240, last: 255 });

/**
 * Define a message type. `id` is 1..239: it fills the messageType byte of SWFT and RUST frame headers
 * (240..255 are reserved for tmesh's link control messages, see {@link defineControlMessage}).
 */
export function defineMessage<S extends StructSchema<any>>(
  name: string,
  id: number,
  schema: S,
): MessageType<Infer<S>> {
  if (Number.isInteger(id) && id >= CONTROL_MESSAGE_IDS.first && id <= CONTROL_MESSAGE_IDS.last) {
    throw tmeshError(
      'E_SCHEMA_INVALID',
      `message type ${name}: ids ${CONTROL_MESSAGE_IDS.first}..${CONTROL_MESSAGE_IDS.last} are reserved for tmesh control messages`,
    );
  }
  return defineAnyMessage(name, id, schema);
}

/** Define one of tmesh's own control message types (ids 240..255): for the link layer, not applications. */
export function defineControlMessage<S extends StructSchema<any>>(
  name: string,
  id: number,
  schema: S,
): MessageType<Infer<S>> {
  if (!Number.isInteger(id) || id < CONTROL_MESSAGE_IDS.first || id > CONTROL_MESSAGE_IDS.last) {
    throw tmeshError(
      'E_SCHEMA_INVALID',
      `control message ${name}: id must be in ${CONTROL_MESSAGE_IDS.first}..${CONTROL_MESSAGE_IDS.last}, got ${String(id)}`,
    );
  }
  return defineAnyMessage(name, id, schema);
}

function defineAnyMessage<S extends StructSchema<any>>(
  name: string,
  id: number,
  schema: S,
): MessageType<Infer<S>> {
  if (typeof name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_.]*$/.test(name)) {
    throw tmeshError(
      'E_SCHEMA_INVALID',
      `message type name must be an identifier (dots allowed), got ${JSON.stringify(name)}`,
    );
  }
  if (!Number.isInteger(id) || id < 1 || id > 255) {
    throw tmeshError(
      'E_SCHEMA_INVALID',
      `message type ${name}: id must be an integer in 1..255, got ${String(id)}`,
    );
  }
  if (schema?.desc?.kind !== 'struct') {
    throw tmeshError(
      'E_SCHEMA_INVALID',
      `message type ${name}: schema must be a struct (t.struct or a .proto message)`,
    );
  }
  return Object.freeze({ name, id, schema }) as MessageType<Infer<S>>;
}

/** The set of message types a node understands, looked up by id (frames) or by name (universal wire). */
export class MessageRegistry {
  readonly #byId = new Map<number, MessageType<any>>();
  readonly #byName = new Map<string, MessageType<any>>();

  constructor(types: Iterable<MessageType<any>> = []) {
    for (const type of types) this.register(type);
  }

  /** Add a type; a second type with the same name or id is an E_REGISTRY_DUPLICATE error. */
  register<T>(type: MessageType<T>): MessageType<T> {
    const sameId = this.#byId.get(type.id);
    if (sameId)
      throw tmeshError(
        'E_REGISTRY_DUPLICATE',
        `message id ${type.id} is taken by ${sameId.name}, cannot register ${type.name}`,
      );
    if (this.#byName.has(type.name))
      throw tmeshError('E_REGISTRY_DUPLICATE', `message type ${type.name} is already registered`);
    this.#byId.set(type.id, type);
    this.#byName.set(type.name, type);
    return type;
  }

  /** The type with this frame id; E_UNKNOWN_MESSAGE_TYPE if none. */
  byId(id: number): MessageType<unknown> {
    const type = this.#byId.get(id);
    if (!type) throw tmeshError('E_UNKNOWN_MESSAGE_TYPE', `no message type registered with id ${id}`);
    return type;
  }

  /** The type with this name; E_UNKNOWN_MESSAGE_TYPE if none. */
  byName(name: string): MessageType<unknown> {
    const type = this.#byName.get(name);
    if (!type)
      throw tmeshError(
        'E_UNKNOWN_MESSAGE_TYPE',
        `no message type registered with name ${JSON.stringify(name)}`,
      );
    return type;
  }

  /** Whether a type with this id is registered. */
  hasId(id: number): boolean {
    return this.#byId.has(id);
  }

  /** All registered types, in id order. */
  list(): MessageType<unknown>[] {
    return [...this.#byId.values()].sort((a, b) => a.id - b.id);
  }
}
