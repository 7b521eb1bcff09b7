// A span exporter that writes each finished span as one JSON line on stdout:
// it stands in for an OTLP exporter and a collector, so the recipe runs alone.
// ExportResultCode.SUCCESS of @opentelemetry/core.
const SUCCESS = 0;

class JsonLinesSpanExporter {
  export(spans, resultCallback) {
    for (const span of spans) {
      const { traceId, spanId } = span.spanContext();
      const parentSpanId = span.parentSpanContext?.spanId;
      process.stdout.write(`${JSON.stringify({ span: { name: span.name, kind: span.kind, traceId, spanId, parentSpanId } })}\n`);
    }
    resultCallback({ code: SUCCESS });
  }

  shutdown() {
    return Promise.resolve();
  }
}

module.exports = { JsonLinesSpanExporter };
