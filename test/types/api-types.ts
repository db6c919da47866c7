// Type-level tests of the public API: this file is compiled by tsc with the
// rest of the tests (the build fails when a line marked @ts-expect-error
// compiles, or an unmarked one does not) and never run.
import type {
  CheckpointCoordinator,
  CheckpointMetadata,
  InstanceAck,
  JsonValue,
  KeyedStateBackend,
  OperatorInstance,
  ValueState,
} from '../../src/index.js'
import { int32Serializer, int64Serializer, jsonSerializer, stringSerializer, ValueStateDescriptor } from '../../src/index.js'

/** Fails to compile unless A and B are the same type. */
type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false
function expectType<A, B>(_proof: Equal<A, B>): void {}

export function valueStateTypes(backend: KeyedStateBackend<string>): void {
  // A descriptor with a default value: value() is T, no `!` needed (the README's example needed one).
  const count = backend.getState(new ValueStateDescriptor('count', int64Serializer, 0n))
  expectType<ReturnType<typeof count.value>, bigint>(true)
  count.update(count.value() + 1n)

  // Without a default: T | undefined.
  const last = backend.getState(new ValueStateDescriptor('last', stringSerializer))
  expectType<ReturnType<typeof last.value>, string | undefined>(true)
  // @ts-expect-error value() may be undefined without a default
  const length: number = last.value().length
  void length

  // A default whose type may be undefined does not promise a value.
  const maybe = ((): number | undefined => undefined)()
  const unsure = backend.getState(new ValueStateDescriptor('unsure', int32Serializer, maybe))
  expectType<ReturnType<typeof unsure.value>, number | undefined>(true)

  // getPartitionedState works it out the same way.
  const windowed = backend.getPartitionedState(5, int32Serializer, new ValueStateDescriptor('w', int32Serializer, 0))
  expectType<ReturnType<typeof windowed.value>, number>(true)

  // The default must be a T.
  // @ts-expect-error a string default for an int32 state
  void new ValueStateDescriptor('bad', int32Serializer, 'zero')

  // Descriptors and states with a default are still the plain types where those are asked for.
  const plain: ValueStateDescriptor<bigint> = new ValueStateDescriptor('count', int64Serializer, 0n)
  const state: ValueState<bigint> = count
  void plain
  void state
  // Type arguments given by hand: the default's type is the second one (TypeScript infers none or all).
  const json = backend.getState(new ValueStateDescriptor<{ n: number }, { n: number }>('json', jsonSerializer as never, { n: 0 }))
  expectType<ReturnType<typeof json.value>, { n: number }>(true)
  const onlyT = backend.getState(new ValueStateDescriptor<number>('onlyT', int32Serializer, 0))
  expectType<ReturnType<typeof onlyT.value>, number | undefined>(true)
}

/** An operator state type: a type alias of JSON values (an interface is not assignable to JsonValue). */
type SourcePositions = { source: string; committed: number[] }

export function operatorStateTypes(
  coordinator: CheckpointCoordinator<SourcePositions>,
  instance: OperatorInstance<SourcePositions>,
  md: CheckpointMetadata<SourcePositions>,
): void {
  const latest = coordinator.latestCompletedCheckpoint()
  expectType<typeof latest, CheckpointMetadata<SourcePositions> | undefined>(true)
  const committed: number[] | undefined = md.instances[0]?.operatorState?.committed
  void committed
  // @ts-expect-error no such field in SourcePositions
  void md.instances[0]?.operatorState?.offset
  const ack: InstanceAck<SourcePositions> = { handle: undefined, syncDurationMs: 0, asyncDurationMs: 0, operatorState: { source: 'a', committed: [1] } }
  // @ts-expect-error committed must be numbers
  const badAck: InstanceAck<SourcePositions> = { handle: undefined, syncDurationMs: 0, asyncDurationMs: 0, operatorState: { source: 'a', committed: ['1'] } }
  void ack
  void badAck
  void instance
  // Operator state stays plain JSON: a Date is refused at compile time.
  // @ts-expect-error Date is not JSON
  const notJson: CheckpointMetadata<{ when: Date }> | undefined = undefined
  void notJson
  // The default is any JSON value.
  const untyped: CheckpointMetadata = md
  expectType<(typeof untyped.instances)[number]['operatorState'], JsonValue | undefined>(true)
}
