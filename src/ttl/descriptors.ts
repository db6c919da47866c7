// The descriptor a backend actually stores a TTL'd state with: the user's
// serializers wrapped to carry the last-access timestamp. Reducing and
// aggregating state become value state underneath (same bytes: one value per
// key and namespace), so the TTL layer can read and rewrite the timestamp with
// value()/update() without backend support.
import {
  ListStateDescriptor,
  MapStateDescriptor,
  ValueStateDescriptor,
  type AnyStateDescriptor,
} from '../state/descriptors.js'
import { ttlValueSerializer } from './value.js'

export type TtlStorageDescriptor = ValueStateDescriptor<any> | ListStateDescriptor<any> | MapStateDescriptor<any, any>

export function ttlStorageDescriptor(d: AnyStateDescriptor): TtlStorageDescriptor {
  switch (d.kind) {
    case 'value':
    case 'reducing':
      return new ValueStateDescriptor(d.name, ttlValueSerializer(d.serializer))
    case 'aggregating':
      return new ValueStateDescriptor(d.name, ttlValueSerializer(d.accumulatorSerializer))
    case 'list':
      return new ListStateDescriptor(d.name, ttlValueSerializer(d.elementSerializer))
    case 'map':
      return new MapStateDescriptor(d.name, d.userKeySerializer, ttlValueSerializer(d.userValueSerializer))
  }
}
