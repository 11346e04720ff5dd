// Package tracing holds syncd's OpenTelemetry traces: a tracer provider
// configured only by the standard OTEL_* environment variables (OTLP over
// HTTP, off when no endpoint is set), and the span helpers the reconcile and
// promotion code use. No state is global: `syncd run` passes the provider
// to the daemon and the promoter, and a span in a context.Context carries
// it down to the steps (Start).
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Instrumentation is the instrumentation scope of every syncd span.
const Instrumentation = "github.com/syncd-dev/syncd"

// Span attribute keys.
const (
	Site     = attribute.Key("syncd.site")
	Product  = attribute.Key("syncd.product")
	Version  = attribute.Key("syncd.version")
	Revision = attribute.Key("syncd.revision")
	Result   = attribute.Key("syncd.result")
	// Stage is an apply stage (the dependency level of a product) or a
	// promotion stage ("<from> -> <to>").
	Stage = attribute.Key("syncd.stage")
	// Trigger is what started a sync that is not a full reconcile: "watch"
	// for an object put back after a watch event (an edit or delete by
	// someone else, an admin resolving a conflict).
	Trigger = attribute.Key("syncd.trigger")
	// ObjectGroup, ObjectKind, ObjectNamespace and ObjectName name the
	// object of a single-object sync (the namespace is empty for a
	// cluster-scoped object, the group for the core group).
	ObjectGroup     = attribute.Key("syncd.object.group")
	ObjectKind      = attribute.Key("syncd.object.kind")
	ObjectNamespace = attribute.Key("syncd.object.namespace")
	ObjectName      = attribute.Key("syncd.object.name")
	// Action is what a single-object sync did: created, configured,
	// unchanged, or none.
	Action = attribute.Key("syncd.action")
)

// Result values.
const (
	Success = "success"
	Failure = "failure"
)

// Config is what Enabled read from the environment.
type Config struct {
	// Enabled is set when an OTLP endpoint is configured.
	Enabled bool
	// Endpoint is the endpoint variable that turned tracing on and its
	// value without credentials, for the log.
	Endpoint string
}

// endpointVars turn tracing on, the more specific first.
var endpointVars = []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"}

// FromEnv decides from the environment (getenv, e.g. os.Getenv) whether
// traces are exported: only when OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, unless OTEL_SDK_DISABLED=true
// or OTEL_TRACES_EXPORTER=none. Only OTLP over HTTP with protobuf is
// supported: another OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL or exporter is an
// error rather than silently ignored.
func FromEnv(getenv func(string) string) (Config, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return Config{}, nil
	}
	switch exp := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); exp {
	case "none":
		return Config{}, nil
	case "", "otlp":
	default:
		return Config{}, fmt.Errorf("OTEL_TRACES_EXPORTER=%s: not supported yet (syncd exports traces with otlp, or none)", exp)
	}
	var cfg Config
	for _, v := range endpointVars {
		if e := strings.TrimSpace(getenv(v)); e != "" {
			cfg = Config{Enabled: true, Endpoint: v + "=" + redactURL(e)}
			break
		}
	}
	if !cfg.Enabled {
		return Config{}, nil
	}
	for _, v := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		switch p := strings.TrimSpace(getenv(v)); p {
		case "", "http/protobuf":
		default:
			return Config{}, fmt.Errorf("%s=%s: not supported yet (syncd exports OTLP over HTTP: http/protobuf)", v, p)
		}
	}
	return cfg, nil
}

// Provider is a tracer provider and how to flush and stop it.
type Provider struct {
	trace.TracerProvider
	// Config is what the environment said.
	Config Config
	sdk    *sdktrace.TracerProvider
}

// Noop returns a provider that records nothing, at no cost.
func Noop() *Provider { return &Provider{TracerProvider: noop.NewTracerProvider()} }

// New returns the tracer provider getenv configures (FromEnv): a no-op one
// when no OTLP endpoint is set; else one exporting in batches over OTLP/HTTP
// to that endpoint, configured by the exporter's standard OTEL_EXPORTER_OTLP_*
// variables (headers, timeout, compression, certificates), with the
// resource of OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (service.name
// syncd by default) and the sampler of OTEL_TRACES_SAMPLER (every trace by
// default).
func New(ctx context.Context, getenv func(string) string, serviceVersion string) (*Provider, error) {
	cfg, err := FromEnv(getenv)
	if err != nil || !cfg.Enabled {
		return &Provider{TracerProvider: noop.NewTracerProvider(), Config: cfg}, err
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter (%s): %w", cfg.Endpoint, err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "syncd"), attribute.String("service.version", serviceVersion)),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil && res == nil {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	sdk := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Provider{TracerProvider: sdk, Config: cfg, sdk: sdk}, nil
}

// ForceFlush exports every span ended so far.
func (p *Provider) ForceFlush(ctx context.Context) error {
	if p.sdk == nil {
		return nil
	}
	return p.sdk.ForceFlush(ctx)
}

// Shutdown exports what is left and stops the provider; it waits at most
// five seconds for the collector.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p.sdk == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return p.sdk.Shutdown(ctx)
}

// Tracer is syncd's tracer of tp; a no-op one when tp is nil.
func Tracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	return tp.Tracer(Instrumentation)
}

// Start starts a child of the span in ctx with the provider of that span:
// without a span in ctx (tracing off) it records nothing and costs nothing.
func Start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	tp := trace.SpanFromContext(ctx).TracerProvider()
	return tp.Tracer(Instrumentation).Start(ctx, name, trace.WithAttributes(attrs...))
}

// End ends span with its result: on err the span's status is an error with
// err's message (which must carry no secret: syncd's errors name objects and
// fields, never Secret values) and result "failure", else "success".
func End(span trace.Span, err error) {
	SetResult(span, err)
	span.End()
}

// SetResult sets span's result and status from err without ending it.
func SetResult(span trace.Span, err error) {
	if !span.IsRecording() {
		return
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		span.SetAttributes(Result.String(Failure))
		span.SetStatus(codes.Error, firstLine(err.Error()))
		return
	}
	if err != nil {
		span.SetAttributes(Result.String("canceled"))
		return
	}
	span.SetAttributes(Result.String(Success))
}

// Log returns log with the field trace_id of the span in ctx, when one is
// recorded, so that log lines and traces can be joined.
func Log(ctx context.Context, log hclog.Logger) hclog.Logger {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		return log.With("trace_id", sc.TraceID().String())
	}
	return log
}

// Propagator is the W3C trace context propagation (traceparent,
// tracestate) the webhook continues.
func Propagator() propagation.TextMapPropagator { return propagation.TraceContext{} }

// redactURL drops the user information and query of an endpoint URL, where
// credentials could hide; a value that is no URL is not shown.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(not a URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
