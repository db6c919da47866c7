export * from './serializer.js'
export * from './primitives.js'
export * from './composite.js'
