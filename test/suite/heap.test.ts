import { heapFactory } from './factories.js'
import { runConformanceSuite } from './index.js'

runConformanceSuite(heapFactory())
