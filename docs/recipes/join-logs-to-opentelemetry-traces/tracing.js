// OpenTelemetry for this service: required first by app.js, because the
// instrumentations patch http and express when those are required.
// #region sdk
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { registerInstrumentations } = require('@opentelemetry/instrumentation');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
const { ExpressInstrumentation } = require('@opentelemetry/instrumentation-express');
const { UndiciInstrumentation } = require('@opentelemetry/instrumentation-undici');
const { JsonLinesSpanExporter } = require('./span-exporter');

const provider = new NodeTracerProvider({
  // In production: new OTLPTraceExporter() from @opentelemetry/exporter-trace-otlp-http.
  spanProcessors: [new BatchSpanProcessor(new JsonLinesSpanExporter())],
});
// The global tracer provider, the AsyncLocalStorage context manager and W3C traceparent propagation.
provider.register();
registerInstrumentations({
  // HTTP opens the server span keel adopts; undici stamps fetch with its client span.
  instrumentations: [new HttpInstrumentation(), new ExpressInstrumentation(), new UndiciInstrumentation()],
});
// #endregion sdk

// Let the process end cleanly with its last spans exported.
process.once('SIGTERM', () => provider.shutdown().finally(() => process.exit(0)));
