// The job of the broker examples: per user, a ValueState count of page views
// and a MapState of views per page, read from NATS JetStream or Redis Streams
// (chosen by the job's parameters). Run it with nats-job.ts or redis-job.ts.
import {
  defineJob,
  int32Serializer,
  MapStateDescriptor,
  natsJetStreamSource,
  redisStreamsSource,
  stringSerializer,
  ValueStateDescriptor,
  type KeyedOperator,
  type MapState,
  type OperatorContext,
  type ValueState,
} from '../../src/index.js'

export interface PageView {
  user: string
  page: string
}

export type PageViewsParams = { broker: 'nats'; url: string; stream: string } | { broker: 'redis'; url: string; prefix: string }

export const viewsDescriptor = new ValueStateDescriptor('views', int32Serializer, 0)
export const viewsByPageDescriptor = new MapStateDescriptor('views-by-page', stringSerializer, int32Serializer)

class PageViews implements KeyedOperator<PageView, string> {
  private views!: ValueState<number>
  private byPage!: MapState<string, number>

  open(ctx: OperatorContext<string>): void {
    this.views = ctx.backend.getState(viewsDescriptor)
    this.byPage = ctx.backend.getMapState(viewsByPageDescriptor)
  }

  processElement(view: PageView): void {
    this.views.update(this.views.value()! + 1)
    this.byPage.put(view.page, (this.byPage.get(view.page) ?? 0) + 1)
  }
}

export default defineJob<PageView, string, PageViewsParams>({
  name: 'page-views',
  keySerializer: stringSerializer,
  keyOf: (view) => view.user,
  operator: () => new PageViews(),
  source: (p) =>
    p.broker === 'nats'
      ? natsJetStreamSource<PageView>({ servers: p.url, stream: p.stream })
      : redisStreamsSource<PageView>({ url: p.url, prefix: p.prefix }),
})
